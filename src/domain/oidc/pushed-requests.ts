// Pushed Authorization Requests (RFC 9126 §2): the client sends its authorization request to /par,
// authenticated like at /token, and gets a request_uri that stands for it at /authorize, once, for
// PUSHED_REQUEST_TTL_MS. The request is validated here by the very code /authorize uses, so a bad one
// is refused to the client (400 JSON) before any browser is involved.
import type { Deps } from '../../deps.js';
import { appError, type Reason } from '../../errors.js';
import { randomToken, sha256 } from '../../lib/crypto.js';
import type { App } from '../apps/apps.js';
import {
  AUTHORIZATION_PARAMS,
  checkAuthorizationRequest,
  PUSHED_REQUEST_TTL_MS,
  REQUEST_URI_PREFIX,
  type AuthorizationParams,
  type RefusalError,
} from './authorization.js';
import { insertPushedRequest } from './pushed-request-store.js';

/** RFC 9126 §2.3: the error values of /authorize, as the token endpoint's JSON. */
const REFUSAL_REASONS: Record<RefusalError, Reason> = {
  invalid_request: 'pushed_request_invalid',
  request_not_supported: 'pushed_request_invalid',
  request_uri_not_supported: 'pushed_request_invalid',
  unsupported_response_type: 'pushed_request_response_type',
  unauthorized_client: 'pushed_request_unauthorized',
  invalid_scope: 'pushed_request_scope',
  invalid_target: 'pushed_request_target',
};

export interface PushedRequest {
  requestUri: string;
  /** Seconds. */
  expiresIn: number;
}

/** Validates and stores an authorization request of the authenticated `client` (RFC 9126 §2.1-2.2). */
export async function pushAuthorizationRequest(
  deps: Pick<Deps, 'db' | 'clock'>,
  client: App,
  body: AuthorizationParams,
): Promise<PushedRequest> {
  // §2.1: a request_uri cannot itself be pushed; the client_id, if given, is the authenticated client.
  if (body.request_uri !== undefined) throw appError('pushed_request_uri_given');
  if (body.client_id !== undefined && body.client_id !== client.appId) throw appError('client_id_mismatch');
  const params: AuthorizationParams = { client_id: client.appId };
  for (const name of AUTHORIZATION_PARAMS) if (body[name] !== undefined && name !== 'client_id') params[name] = body[name];

  const checked = await checkAuthorizationRequest(deps, params, { pushed: true });
  if (checked.kind === 'refused') throw appError(REFUSAL_REASONS[checked.error], { description: checked.description });

  const requestUri = `${REQUEST_URI_PREFIX}${randomToken(32)}`;
  const now = deps.clock.now();
  await insertPushedRequest(deps.db, {
    request_hash: sha256(requestUri),
    app_id: client.appId,
    params: JSON.stringify(params),
    created_at: now,
    expires_at: new Date(now.getTime() + PUSHED_REQUEST_TTL_MS),
  });
  return { requestUri, expiresIn: PUSHED_REQUEST_TTL_MS / 1000 };
}
