// The Console's two cookies, both AES-256-GCM under a key derived from KEYMASTER_SECRET (like the
// sealed authorization request), HttpOnly, SameSite=Lax, Secure on an https issuer, Path=/console:
// - km_console_flow: one sign-in in progress (PKCE verifier, state, nonce, where to return), 10 min.
// - km_console: the signed-in admin's tokens (access = the Admin JWT, refresh, ID token for the
//   end-session hint). The browser never sees a token in clear, and no token is ever in a URL.
// A cookie that does not decrypt, or parse, is treated as absent (sign in again).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Config } from '../../config.js';
import type { Deps } from '../../deps.js';
import { decrypt, deriveKey, encrypt } from '../../lib/crypto.js';

export const CONSOLE_PATH = '/console';
const FLOW_TTL_SECONDS = 600;

/** `__Secure-` on https: the `__Host-` prefix would need Path=/, and these cookies are for /console only. */
const nameOf = (config: Pick<Config, 'secureCookies'>, base: string) => (config.secureCookies ? `__Secure-${base}` : base);
export const sessionCookieName = (config: Pick<Config, 'secureCookies'>) => nameOf(config, 'km_console');
export const flowCookieName = (config: Pick<Config, 'secureCookies'>) => nameOf(config, 'km_console_flow');

const cookieOptions = (config: Pick<Config, 'secureCookies'>) => ({
  path: CONSOLE_PATH,
  httpOnly: true,
  sameSite: 'lax' as const,
  secure: config.secureCookies,
});

const ConsoleSession = z.object({
  /** The Admin JWT. */
  at: z.string(),
  rt: z.string().optional(),
  idt: z.string().optional(),
  /** When the access token expires (epoch ms). */
  exp: z.number(),
  /** The signed-in user's id (the `sub` of the tokens). */
  sub: z.string(),
});
export type ConsoleSession = z.infer<typeof ConsoleSession>;

const SignInFlow = z.object({
  verifier: z.string(),
  state: z.string(),
  nonce: z.string(),
  /** A Console path to return to after sign-in (always starts with /console). */
  returnTo: z.string(),
  /** When the flow was started (epoch ms). */
  at: z.number(),
});
export type SignInFlow = z.infer<typeof SignInFlow>;

type Sealer = Pick<Deps, 'secret'>;
const key = (deps: Sealer) => {
  if (!deps.secret) throw new Error('the Console needs KEYMASTER_SECRET');
  return deriveKey(deps.secret, 'console-session');
};

function open<T>(deps: Sealer, schema: z.ZodType<T>, box: string | undefined, aad: string): T | undefined {
  if (!box) return undefined;
  try {
    return schema.parse(JSON.parse(decrypt(key(deps), box, aad)));
  } catch {
    return undefined;
  }
}

export function readSession(deps: Sealer & Pick<Deps, 'config'>, req: FastifyRequest): ConsoleSession | undefined {
  return open(deps, ConsoleSession, req.cookies[sessionCookieName(deps.config)], 'console-session');
}

export function writeSession(deps: Sealer & Pick<Deps, 'config'>, reply: FastifyReply, session: ConsoleSession): void {
  const value = encrypt(key(deps), JSON.stringify(ConsoleSession.parse(session)), 'console-session');
  reply.setCookie(sessionCookieName(deps.config), value, { ...cookieOptions(deps.config), maxAge: deps.config.ssoSessionTtlHours * 3600 });
}

export function clearSession(deps: Pick<Deps, 'config'>, reply: FastifyReply): void {
  reply.clearCookie(sessionCookieName(deps.config), cookieOptions(deps.config));
}

/** The sign-in in progress, if it is ours and younger than ten minutes. */
export function readFlow(deps: Sealer & Pick<Deps, 'config' | 'clock'>, req: FastifyRequest): SignInFlow | undefined {
  const flow = open(deps, SignInFlow, req.cookies[flowCookieName(deps.config)], 'console-flow');
  if (!flow || deps.clock.now().getTime() - flow.at > FLOW_TTL_SECONDS * 1000) return undefined;
  return flow;
}

export function writeFlow(deps: Sealer & Pick<Deps, 'config'>, reply: FastifyReply, flow: SignInFlow): void {
  const value = encrypt(key(deps), JSON.stringify(flow), 'console-flow');
  reply.setCookie(flowCookieName(deps.config), value, { ...cookieOptions(deps.config), maxAge: FLOW_TTL_SECONDS });
}

export function clearFlow(deps: Pick<Deps, 'config'>, reply: FastifyReply): void {
  reply.clearCookie(flowCookieName(deps.config), cookieOptions(deps.config));
}

/** Only a path inside the Console is ever a return target (no open redirect). */
export function safeReturnTo(path: string | undefined): string {
  if (!path || !/^\/console(?:[/?#]|$)/.test(path) || path.includes('\\') || path.startsWith('//')) return CONSOLE_PATH;
  return path;
}

/**
 * km_console_secret: a client secret on its way from the POST that made it to the one GET that shows
 * it (post/redirect/get, so a reload never makes a second app or secret). Sealed like the session,
 * 5 minutes, read once: the secret is never in a URL and never stored by the server.
 */
const SecretFlash = z.object({ appId: z.string(), secret: z.string(), created: z.boolean() });
export type SecretFlash = z.infer<typeof SecretFlash>;
const secretCookieName = (config: Pick<Config, 'secureCookies'>) => nameOf(config, 'km_console_secret');

export function writeSecretFlash(deps: Sealer & Pick<Deps, 'config'>, reply: FastifyReply, flash: SecretFlash): void {
  const value = encrypt(key(deps), JSON.stringify(flash), 'console-secret');
  reply.setCookie(secretCookieName(deps.config), value, { ...cookieOptions(deps.config), maxAge: 300 });
}

/** The secret for `appId`, if one is waiting; the cookie is cleared either way. */
export function takeSecretFlash(
  deps: Sealer & Pick<Deps, 'config'>,
  req: FastifyRequest,
  reply: FastifyReply,
  appId: string,
): SecretFlash | undefined {
  const flash = open(deps, SecretFlash, req.cookies[secretCookieName(deps.config)], 'console-secret');
  if (req.cookies[secretCookieName(deps.config)] !== undefined)
    reply.clearCookie(secretCookieName(deps.config), cookieOptions(deps.config));
  return flash?.appId === appId ? flash : undefined;
}
