// zod schemas of the Admin API's operations routes (sessions and refresh tokens, refresh keys, audit,
// webhooks, signing keys, stats, logo). Times are ISO 8601 strings; lists carry `next_cursor`.
import { z } from 'zod';
import { WEBHOOK_EVENTS } from '../../domain/webhooks/webhooks.js';
import { RefreshKeyLifetime } from '../../domain/tokens/refresh-keys.js';

const uuid = z.uuid({ message: 'must be a uuid' });
const cursor = z.string().max(200).optional();
const limit = z.coerce.number().int().min(1).max(200).optional();
const bool = z.enum(['true', 'false']).transform((v) => v === 'true');
const instant = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time' }).transform((v) => new Date(v));

export const UserParams = z.object({ user_id: uuid });
export const UserSessionParams = z.object({ user_id: uuid, session_id: uuid });
export const AppParams = z.object({ app_id: uuid });
export const AppTokenParams = z.object({ app_id: uuid, jti: uuid });
export const JtiParams = z.object({ jti: uuid });
export const WebhookParams = z.object({ id: uuid });
export const DeliveryParams = z.object({ id: uuid, delivery_id: uuid });
export const PageQuery = z.object({ cursor, limit });
export const Cursor = z.string().nullable();

export const RevokeQuery = z.object({
  family: bool.optional().describe('true: the jti names a family (family_id), not a token'),
});

export const UserTokensQuery = z.object({
  app_id: uuid.optional(),
  active: bool.optional(),
  cursor,
  limit,
});
export const AppKeysQuery = z.object({ active: bool.optional(), keys_only: bool.optional(), cursor, limit });

/** Seed 001's fields of a refresh-token record. Never the token: a hash prefix only. */
export const RefreshTokenItem = z.object({
  jti: z.string(),
  family_id: z.string(),
  parent_jti: z.string().nullable(),
  audience: z.string().describe('the app the token is bound to (its access tokens have aud = app_id)'),
  app_id: z.string(),
  user_id: z.string(),
  state: z.enum(['active', 'rotated', 'revoked', 'expired']),
  lifetime_seconds: z.number().int(),
  created_at: z.string(),
  expires_at: z.string(),
  revoked_at: z.string().nullable(),
  revoked_reason: z.string().nullable(),
  last_used_at: z.string().nullable(),
  content: z.record(z.string(), z.unknown()).describe('the claims the token carries (email, name, roles) and its scope'),
  token_hash: z.string().describe('the first 12 hex characters of the SHA-256 of the token'),
  device_info: z.object({ user_agent: z.string().nullable(), ip: z.string().nullable() }),
  refresh_key: z.boolean().describe('created with the "+ refresh key" form (seed 001), not by a sign-in'),
  issued_by: z.string().nullable(),
});
export const RefreshTokenList = z.object({ refresh_tokens: z.array(RefreshTokenItem), next_cursor: Cursor });

export const SessionItem = z.object({
  id: z.string().describe('the sign-in (refresh-token family) id'),
  app_id: z.string(),
  sso_session_id: z.string().nullable(),
  created_at: z.string(),
  last_used_at: z.string().nullable(),
  expires_at: z.string(),
  user_agent: z.string().nullable(),
  ip: z.string().nullable(),
});
export const SessionList = z.object({ sessions: z.array(SessionItem), next_cursor: Cursor });

export const Revoked = z.object({ status: z.literal('ok'), revoked: z.number().int(), family_id: z.string().optional() });
export const SignedOut = z.object({
  status: z.literal('ok'),
  revoked_tokens: z.number().int(),
  ended_sso_sessions: z.number().int(),
  apps: z.array(z.string()).nullable().describe('the apps signed out of (a scoped admin); null: everywhere'),
});

export const RefreshKeyBody = z.strictObject({
  audience: z.string().max(2000).describe("the app's id: a refresh token is bound to one app"),
  lifetime: RefreshKeyLifetime.describe('seconds, or a number with s, m, h or d ("30d"); 60 s to 365 days'),
});
export const RefreshKeyCreated = z.object({
  refresh_token: z.string().describe('shown once; only its hash is stored'),
  jti: z.string(),
  family_id: z.string(),
  audience: z.string(),
  user_id: z.string(),
  created_at: z.string(),
  expires_at: z.string(),
  lifetime_seconds: z.number().int(),
});

export const AuditQuery = z.object({
  event: z.string().min(1).max(100).optional(),
  user_id: uuid.optional(),
  app_id: uuid.optional(),
  actor_id: uuid.optional().describe("who acted: the admin's user id (data.actor_id)"),
  since: instant.optional(),
  until: instant.optional(),
  cursor,
  limit,
});
export const AuditItem = z.object({
  id: z.number().int(),
  at: z.string(),
  event: z.string(),
  user_id: z.string().nullable(),
  app_id: z.string().nullable(),
  ip: z.string().nullable(),
  user_agent: z.string().nullable(),
  data: z.record(z.string(), z.unknown()),
});
export const AuditList = z.object({ events: z.array(AuditItem), next_cursor: Cursor });

export const WebhookBody = z.strictObject({
  url: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }).max(2000),
  events: z
    .array(z.enum(WEBHOOK_EVENTS))
    .min(1, 'name at least one event')
    .max(WEBHOOK_EVENTS.length * 2),
});
export const WebhookItem = z.object({
  id: z.string(),
  app_id: z.string(),
  url: z.string(),
  events: z.array(z.string()),
  disabled: z.boolean(),
  created_at: z.string(),
});
/** Keymaster's shape (KEYMASTER-API.md §6): {id, secret, url, events}; the secret is shown once. */
export const WebhookCreated = z.object({
  id: z.string(),
  secret: z.string().describe('64 hex characters, shown once: HMAC-SHA256 key of X-Keymaster-Signature'),
  url: z.string(),
  events: z.array(z.string()),
});
export const WebhookList = z.object({ webhooks: z.array(WebhookItem) });
export const PingQueued = z.object({ status: z.literal('ok'), delivery_id: z.string() });
export const DeliveryItem = z.object({
  id: z.string(),
  event: z.string(),
  status: z.enum(['pending', 'delivered', 'failed']),
  attempts: z.number().int(),
  next_attempt_at: z.string().nullable(),
  last_status: z.number().int().nullable(),
  last_error: z.string().nullable(),
  created_at: z.string(),
  delivered_at: z.string().nullable(),
});
export const DeliveryList = z.object({ deliveries: z.array(DeliveryItem), next_cursor: Cursor });

export const SigningKeyItem = z.object({
  kid: z.string(),
  state: z.enum(['next', 'active', 'previous', 'retired']),
  created_at: z.string(),
  activate_at: z.string().nullable(),
  activated_at: z.string().nullable(),
  retire_at: z.string().nullable(),
  retired_at: z.string().nullable(),
});
export const SigningKeyList = z.object({ keys: z.array(SigningKeyItem) });
export const RotateBody = z.strictObject({
  immediately: z.boolean().optional().describe('the new key signs at once (a compromised key); caches may not know it yet'),
});
export const Rotated = z.object({
  kid: z.string(),
  state: z.enum(['next', 'active']),
  activate_at: z.string(),
  warning: z.string().nullable(),
});

export const Stats = z.object({
  users: z.number().int(),
  apps: z.number().int(),
  active_sessions: z.number().int(),
  live_refresh_tokens: z.number().int(),
  last_24h: z.object({
    since: z.string(),
    sign_in_failures: z.number().int(),
    replays: z.number().int(),
    lockouts: z.number().int(),
  }),
});

export const LogoSaved = z.object({ logo_url: z.string(), content_type: z.string(), bytes: z.number().int() });
