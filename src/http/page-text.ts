// The visible English text of the consent page and the /account pages, in one place, so that it can
// move to a message catalog (one key per entry) without touching the routes or the templates, which
// read it as `it.t`. Parameterised entries are functions of their values.

/** What each scope lets an app do, in plain words (the consent page and the connected-apps list). */
const SCOPE_TEXT: Record<string, string> = {
  openid: 'Know who you are (your account ID)',
  profile: 'See your name',
  email: 'See your email address and whether it is verified',
  roles: 'See your roles',
  offline_access: 'Keep access when you are not using it (stay signed in)',
};

export const describeScope = (scope: string): string => SCOPE_TEXT[scope] ?? `Use "${scope}"`;

export const CONSENT_TEXT = {
  title: 'Allow access',
  heading: (app: string) => `${app} wants to access your account`,
  signedInAs: 'Signed in as',
  wants: (app: string) => `${app} will be able to:`,
  thirdParty: (app: string) =>
    `${app} is not run by this sign-in service. Allow only if you trust it; you can remove its access at any time on your account page.`,
  allow: 'Allow',
  deny: 'Deny',
  accountLink: 'Your account',
};

export const ACCOUNT_TEXT = {
  title: 'Your account',
  signInTitle: 'Sign in to your account',
  signInButton: 'Sign in',
  email: 'Email',
  password: 'Password',
  profile: 'Profile',
  name: 'Name',
  saveName: 'Save name',
  verified: 'Verified',
  notVerified: 'Not verified',
  changePassword: 'Change password',
  currentPassword: 'Current password',
  newPassword: 'New password',
  confirmPassword: 'Confirm new password',
  passwordRules: (policy: string) => `The new password needs ${policy}.`,
  sessions: 'Sessions',
  sessionsIntro: 'Where you are signed in. Signing out a session ends it on that device.',
  noSessions: 'You are not signed in to any app.',
  app: 'App',
  device: 'Device',
  lastUsed: 'Last used',
  unknownDevice: 'Unknown device',
  signOut: 'Sign out',
  signOutOf: (app: string) => `Sign out of ${app}`,
  signOutEverywhere: 'Sign out everywhere',
  connectedApps: 'Connected apps',
  connectedIntro: 'Apps you allowed to access your account.',
  noConnectedApps: 'No app has asked for access to your account.',
  grantedAt: 'Allowed on',
  canDo: 'Can',
  revoke: 'Remove access',
  revokeOf: (app: string) => `Remove access of ${app}`,
  signOutHere: 'Sign out of this browser',
  // Status messages after a change (redirect-after-post: /account?status=…).
  status: {
    name_saved: 'Your name was saved.',
    password_changed: 'Your password was changed. Every other session was signed out.',
    session_ended: 'The session was signed out.',
    app_revoked: 'The app can no longer access your account, and its sessions were signed out.',
    signed_out_everywhere: 'You were signed out everywhere. Sign in again to manage your account.',
  } as Record<string, string>,
  // Field errors of the change-password form.
  mismatch: 'The two new passwords do not match.',
  nameRequired: 'Enter a name.',
};

/** The messages of the verification link's last page (account-pages.ts). */
export const VERIFY_TEXT = {
  verifiedTitle: 'Email verified',
  verifiedElsewhere: 'Your email address is verified. Sign in to continue.',
};
