// Seed 001's "+ refresh key": an admin creates a refresh token for an audience and a lifetime (an
// integration that must get access tokens without a browser sign-in). It is an ordinary refresh
// token of a new family, issued as a sign-in's would be (newRefreshRow), so every rule of refresh
// tokens holds for it: bound to its app, rotated on every use, a replay revokes the family, listed and
// revoked with the rest. What is special: it is the acting admin's own credential (its subject is the
// admin, never someone they could impersonate, with the roles of their membership of the app), it expires after its lifetime, and no rotation moves
// that end (family_expires_at, 0028). The token is returned once; only its hash is stored.
import { z } from 'zod';
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';
import { SECOND } from '../../lib/clock.js';
import { getApp } from '../apps/apps.js';
import { recordAuditEvent, type RequestMeta } from '../audit/audit.js';
import { refreshRoles } from '../memberships/memberships.js';
import { findUserById } from '../users/users.js';
import { newRefreshRow } from './refresh-tokens.js';
import { insertRefreshToken } from './refresh-token-store.js';

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;
export const REFRESH_KEY_LIFETIME = { min: 60, max: 365 * 86_400 } as const;

/** A lifetime: whole seconds, or a number with a unit (`90m`, `12h`, `30d`); one minute to one year. */
export const RefreshKeyLifetime = z
  .union([
    z.number().int(),
    z
      .string()
      .regex(/^\d{1,6}[smhd]$/, 'must be seconds or a number with s, m, h or d (e.g. "30d")')
      .transform((v) => Number(v.slice(0, -1)) * UNIT_SECONDS[v.slice(-1) as keyof typeof UNIT_SECONDS]),
  ])
  .pipe(z.number().min(REFRESH_KEY_LIFETIME.min, 'must be at least 60 seconds').max(REFRESH_KEY_LIFETIME.max, 'must be at most 365 days'));

export interface CreatedRefreshKey {
  /** Shown once. */
  refreshToken: string;
  jti: string;
  familyId: string;
  appId: string;
  userId: string;
  createdAt: Date;
  expiresAt: Date;
  lifetimeSeconds: number;
}

export async function createRefreshKey(
  deps: Pick<Deps, 'db' | 'clock' | 'config'>,
  input: { appId: string; audience: string; lifetimeSeconds: number; adminId: string },
  meta: RequestMeta,
): Promise<CreatedRefreshKey> {
  const app = await getApp(deps, input.appId);
  if (input.audience !== app.appId) throw appError('refresh_key_audience_invalid');
  // A long-lived credential of the Console app would be a year of Admin JWTs outside any sign-in.
  if (app.builtin === 'console') throw appError('refresh_key_console_app');
  const found = await findUserById(deps, input.adminId);
  if (!found || found.disabled) throw appError('user_not_found');
  // The admin's roles in this app, by the rule a refresh applies: no active membership, no key (it
  // could never refresh), and no roles beyond what the admin holds there.
  const user = { ...found, roles: await refreshRoles(deps, found.id, app.appId) };
  const { token, row } = newRefreshRow(deps, user, app, { issuedBy: user.id }, meta);
  // The first token lives its whole lifetime; its successors get the app's refresh lifetime, within it.
  const end = new Date(row.created_at.getTime() + input.lifetimeSeconds * SECOND);
  const stored = await insertRefreshToken(deps.db, { ...row, expires_at: end, family_expires_at: end });
  await recordAuditEvent(
    deps,
    {
      event: 'refresh_key.created',
      userId: user.id,
      appId: app.appId,
      data: { jti: stored.jti, familyId: stored.family_id, lifetimeSeconds: input.lifetimeSeconds },
    },
    meta,
  );
  return {
    refreshToken: token,
    jti: stored.jti,
    familyId: stored.family_id,
    appId: app.appId,
    userId: user.id,
    createdAt: stored.created_at,
    expiresAt: stored.expires_at,
    lifetimeSeconds: input.lifetimeSeconds,
  };
}
