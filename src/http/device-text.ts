// Every visible string of the /device pages (RFC 8628 §3.3), in one place so that they can move into
// message catalogs as they are: the page templates print only these. English only for now.
export const DEVICE_TEXT = {
  enterTitle: 'Connect a device',
  enterIntro: 'Enter the code shown on your device (a TV, console or command line).',
  codeLabel: 'Code',
  codeHint: 'Eight letters, like BCDF-GHJK. Upper or lower case, with or without the dash.',
  continue: 'Continue',
  linkNotice: 'Check that this code is the one shown on your device before you continue.',
  codeInvalid:
    'That code is not valid or has expired. Check the code on your device and enter it again, or start again on the device to get a new code.',
  throttled: (wait: string) => `Too many wrong codes were entered from your network. Try again in ${wait}.`,
  throttledHint: 'Your account is not affected: you can still sign in to it as usual.',
  requestInvalid: 'This device sign-in has expired or was already answered. Start again on your device to get a new code.',
  /** The way back from the throttle page, for when the wait is over. */
  startAgain: 'Enter a code again',
  signInTitle: 'Sign in to connect your device',
  confirmTitle: 'Connect this device?',
  confirmIntro: (app: string) => `${app} is asking to connect the device that shows your code. It will be able to:`,
  confirmWarning: 'Only approve if you started this on a device you have with you. If someone sent you this code, deny.',
  signedInAs: (email: string) => `Signed in as ${email}.`,
  approve: 'Approve',
  deny: 'Deny',
  approvedTitle: 'Device connected',
  approvedMessage: (app: string) => `You approved ${app}. Return to your device: it continues on its own in a few seconds.`,
  deniedTitle: 'Device not connected',
  deniedMessage: (app: string) => `You denied ${app}. Return to your device; nothing was shared with it.`,
  /** The scopes in plain words (USER_SCOPES); a scope without words is shown by its name. */
  scopes: {
    openid: 'Know who you are on this account',
    profile: 'See your name',
    email: 'See your email address',
    offline_access: 'Stay connected until you sign it out',
    roles: 'See your roles in the app',
  } as Record<string, string>,
};

/** "1 minute", "15 minutes": a Retry-After in whole minutes, rounded up. */
export function minutesText(seconds: number): string {
  const n = Math.max(1, Math.ceil(seconds / 60));
  return n === 1 ? '1 minute' : `${n} minutes`;
}
