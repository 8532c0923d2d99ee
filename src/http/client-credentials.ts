// Reads client credentials from a request (RFC 6749 §2.3.1): HTTP Basic, whose id and secret are
// form-urlencoded before base64, or client_id/client_secret in the form body, or a client assertion
// (RFC 7521 §4.2: client_assertion_type and client_assertion).
import type { FastifyRequest } from 'fastify';
import type { ClientCredentials } from '../domain/oidc/client-auth.js';
import { appError } from '../errors.js';

const formDecode = (v: string) => decodeURIComponent(v.replace(/\+/g, ' '));

export function clientCredentialsOf(
  req: FastifyRequest,
  body: {
    client_id?: string | undefined;
    client_secret?: string | undefined;
    client_assertion_type?: string | undefined;
    client_assertion?: string | undefined;
  },
): ClientCredentials {
  const h = req.headers.authorization;
  let basic: ClientCredentials['basic'];
  if (typeof h === 'string' && /^basic /i.test(h)) {
    try {
      const decoded = Buffer.from(h.slice(6).trim(), 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      if (i < 0) throw new Error('no colon');
      basic = { clientId: formDecode(decoded.slice(0, i)), clientSecret: formDecode(decoded.slice(i + 1)) };
    } catch {
      throw appError('client_auth_failed', { detail: 'malformed Basic header' });
    }
  }
  return {
    basic,
    clientId: body.client_id,
    clientSecret: body.client_secret,
    assertionType: body.client_assertion_type,
    assertion: body.client_assertion,
  };
}
