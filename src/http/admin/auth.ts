// Admin API authentication: who is calling, read on every request (no cached rights).
// - An Admin JWT: a user access token whose aud is the built-in Console app, verified and checked
//   live like every bearer token (bearer.ts), then the user's admin tiers from admin_grants.
// - A service token (client credentials) with an admin scope (domain/admin/service-tokens.ts).
// Anything else: 401 (no token, a bad or foreign token) or 403 (a valid token without admin rights).
import type { FastifyReply, FastifyRequest } from 'fastify';
import { decodeJwt } from 'jose';
import type { Deps } from '../../deps.js';
import { actorMeta, loadAdminActor, type Actor } from '../../domain/admin/authorization.js';
import { verifyAdminServiceToken } from '../../domain/admin/service-tokens.js';
import type { RequestMeta } from '../../domain/audit/audit.js';
import { appError } from '../../errors.js';
import { authenticateBearer, bearerToken } from '../bearer.js';
import { requestMeta } from '../request-meta.js';

const actors = new WeakMap<FastifyRequest, Actor>();

/** Only picks the path; each path verifies the token in full. */
function looksLikeServiceToken(token: string): boolean {
  try {
    return decodeJwt(token).token_type === 'service';
  } catch {
    return false;
  }
}

export async function authenticateAdmin(deps: Deps, consoleAppId: string, req: FastifyRequest): Promise<Actor> {
  const token = bearerToken(req);
  if (!token) throw appError('bearer_missing');
  const actor = looksLikeServiceToken(token)
    ? await verifyAdminServiceToken(deps, token)
    : await loadAdminActor(deps, (await authenticateBearer(deps, req, { audience: consoleAppId })).sub);
  actors.set(req, actor);
  return actor;
}

/** The caller the admin plugin's onRequest hook authenticated. */
export function actorOf(req: FastifyRequest): Actor {
  const actor = actors.get(req);
  if (!actor) throw new Error(`${req.method} ${req.url}: no admin actor (a route declared adminAuth: 'public' reads none)`);
  return actor;
}

/** The request's audit fields with the acting admin or service (actor, actorId, source); `reply`: see requestMeta. */
export function adminMeta(req: FastifyRequest, reply?: FastifyReply): RequestMeta {
  return actorMeta(actorOf(req), requestMeta(req, reply));
}
