// private_key_jwt client authentication (RFC 7523 §2.2 and §3, OIDC Core §9): a JWT the client signed
// with a key of its registered JWK Set. iss = sub = client_id; aud names this server (its issuer or one
// of its client-authenticating endpoints: RFC 7523 §3 rule 3, RFC 9126 §2); exp required, at most
// MAX_LIFETIME_S ahead; nbf and iat not in the future; asymmetric algorithms only; jti used once.
import { decodeJwt, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';
import { sha256 } from '../../lib/crypto.js';
import { CLIENT_ASSERTION_ALGS } from '../apps/client-keys.js';
import { KeySetUnavailable } from '../apps/client-key-sets.js';
import { findCachedApp, type App } from '../apps/apps.js';
import { recordJti } from './client-assertion-store.js';

export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** The longest an assertion may live from now (a replay window bound; OIDC Core §9 "short"). */
export const MAX_LIFETIME_S = 300;
export const CLOCK_SKEW_S = 30;
const CLIENT_AUTH_PATHS = ['/token', '/auth/token', '/introspect', '/revoke', '/par'];

type AssertionDeps = Pick<Deps, 'db' | 'clock' | 'config' | 'apps' | 'clientKeys'>;

/** The client id an assertion claims (its iss), before anything is verified: whom to count a failure against. */
export function assertedClientId(assertion: string): string | undefined {
  try {
    const { iss } = decodeJwt(assertion);
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    return undefined;
  }
}

/** The app the assertion authenticates, or client_auth_failed with the real reason as detail. */
export async function verifyClientAssertion(deps: AssertionDeps, clientId: string, assertion: string): Promise<App> {
  const fail = (detail: string) => appError('client_auth_failed', { detail: `client assertion: ${detail}` });
  if (!deps.config.privateKeyJwt) throw fail('private_key_jwt is off (KEYMASTER_PRIVATE_KEY_JWT)');
  const app = (await findCachedApp(deps, clientId))?.app;
  if (!app) throw fail('unknown client');
  if (app.tokenEndpointAuthMethod !== 'private_key_jwt') throw fail(`client is registered for ${app.tokenEndpointAuthMethod}`);

  const now = deps.clock.now();
  const audience = [deps.config.issuer, ...CLIENT_AUTH_PATHS.map((p) => `${deps.config.issuer}${p}`)];
  const verify = async (refetch: boolean): Promise<JWTPayload> => {
    const set = await deps.clientKeys.get(app, now.getTime(), refetch);
    try {
      const { payload } = await jwtVerify(assertion, set.keys, {
        algorithms: [...CLIENT_ASSERTION_ALGS],
        issuer: clientId,
        subject: clientId,
        audience,
        requiredClaims: ['exp', 'jti'],
        clockTolerance: CLOCK_SKEW_S,
        currentDate: now,
      });
      return payload;
    } catch (err) {
      // A kid the set lacks: the client may have rotated its keys (RFC 7517 §5); one refetch may tell.
      if (err instanceof joseErrors.JWKSNoMatchingKey && app.jwksUri !== null && !refetch) return verify(true);
      throw err;
    }
  };
  let claims: JWTPayload;
  try {
    claims = await verify(false);
  } catch (err) {
    if (err instanceof joseErrors.JOSEError || err instanceof KeySetUnavailable) throw fail(`${err.name}: ${err.message}`);
    throw err;
  }

  const nowS = Math.floor(now.getTime() / 1000);
  if (claims.exp! > nowS + MAX_LIFETIME_S + CLOCK_SKEW_S) throw fail(`exp is more than ${MAX_LIFETIME_S} s ahead`);
  if (claims.iat !== undefined && claims.iat > nowS + CLOCK_SKEW_S) throw fail('iat is in the future');
  if (typeof claims.jti !== 'string' || claims.jti.length === 0 || claims.jti.length > 500) throw fail('jti missing or malformed');

  // RFC 7523 §3 rule 7: used once, remembered until it could no longer be accepted anyway.
  const jtiHash = sha256(claims.jti);
  const keepUntil = new Date((claims.exp! + CLOCK_SKEW_S) * 1000);
  if (!(await recordJti(deps.db, app.appId, jtiHash, keepUntil))) throw fail('jti replayed');
  return app;
}
