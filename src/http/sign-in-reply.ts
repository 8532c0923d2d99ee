// How every sign-in journey's outcome is answered (the domain's sign-in/ decides it): the SSO cookie
// when a session was opened, then a 303 to the app with the tokens or the authorization code, or to the consent page.
import type { FastifyReply } from 'fastify';
import type { Config } from '../config.js';
import type { SignInAnswer } from '../domain/sign-in/sign-in.js';
import { consentPagePath } from './consent-page.js';
import { setDeviceCookie, setSsoCookie } from './sso-cookie.js';
import { tokenRedirectUrl } from './token-responses.js';

export function answerSignIn(config: Config, reply: FastifyReply, outcome: SignInAnswer) {
  if (outcome.sessionCookie !== undefined) setSsoCookie(config, reply, outcome.sessionCookie);
  if (outcome.deviceCookie !== undefined) setDeviceCookie(config, reply, outcome.deviceCookie);
  const url =
    outcome.kind === 'code_redirect'
      ? outcome.url
      : outcome.kind === 'consent'
        ? consentPagePath(outcome)
        : tokenRedirectUrl(outcome.redirectUri, outcome.tokens, outcome.state);
  return reply.header('Cache-Control', 'no-store').redirect(url, 303);
}
