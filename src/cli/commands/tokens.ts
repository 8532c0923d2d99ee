// keymaster tokens list|revoke — the refresh-token inventory (seed 001). Revocation works on whole
// families: `revoke JTI` ends the family that token belongs to (a lone token of a family is useless).
import type { Command } from 'commander';
import { listTokens, revokeTokens, type TokenInfo } from '../../domain/tokens/token-inventory.js';
import { appError } from '../../errors.js';
import { CLI, parseLimit, print, table, withDeps } from '../context.js';

const iso = (d: Date | null) => d?.toISOString() ?? null;

export function tokenJson(t: TokenInfo) {
  return {
    jti: t.jti,
    family_id: t.familyId,
    parent_jti: t.parentJti,
    audience: t.appId,
    app_id: t.appId,
    user_id: t.userId,
    session_id: t.sessionId,
    state: t.state,
    lifetime_seconds: t.lifetimeSeconds,
    created_at: iso(t.createdAt),
    expires_at: iso(t.expiresAt),
    last_used_at: iso(t.lastUsedAt),
    rotated_at: iso(t.rotatedAt),
    revoked_at: iso(t.revokedAt),
    revoked_reason: t.revokedReason,
    claims: t.claims,
    scope: t.scope,
    token_hash_prefix: t.hashPrefix,
    device: { user_agent: t.userAgent, ip: t.ip },
  };
}

const days = (s: number) => (s % 86_400 === 0 ? `${s / 86_400}d` : `${s}s`);

export function registerTokenCommands(program: Command): void {
  const tokens = program.command('tokens').description('inspect and revoke refresh tokens');

  tokens
    .command('list')
    .description('list refresh tokens, newest first')
    .option('--user <email|id>', 'only this user')
    .option('--app <app_id>', 'only this app (the audience)')
    .option('--family <id>', 'only this family')
    .option('--active', 'only tokens that can still be used')
    .option('--limit <n>', 'at most n rows (default 100)', parseLimit)
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      await withDeps(async (deps) => {
        const all = await listTokens(deps, { user: o.user, appId: o.app, familyId: o.family, active: Boolean(o.active), limit: o.limit });
        print(
          o.json,
          all.map(tokenJson),
          table(
            all.map((t) => ({
              jti: t.jti,
              family: t.familyId.slice(0, 8),
              audience: t.appId,
              user: (t.claims.email as string | undefined) ?? t.userId,
              state: t.state + (t.revokedReason ? `(${t.revokedReason})` : ''),
              lifetime: days(t.lifetimeSeconds),
              created: t.createdAt,
              expires: t.expiresAt,
              last_used: t.lastUsedAt,
              revoked: t.revokedAt,
              hash: t.hashPrefix,
              device: [t.userAgent?.slice(0, 40), t.ip].filter(Boolean).join(' '),
            })),
          ),
        );
      });
    });

  tokens
    .command('revoke [jti]')
    .description("revoke a token's family (by jti), a family (--family) or all of a user's tokens and SSO sessions (--user)")
    .option('--family <id>', 'revoke this family')
    .option('--user <email|id>', 'revoke every token and SSO session of this user')
    .option('--json', 'machine-readable output')
    .action(async (jti: string | undefined, o) => {
      const given = [jti, o.family, o.user].filter((v) => v !== undefined).length;
      if (given !== 1) throw appError('usage', { message: 'give exactly one of JTI, --family ID or --user ID' });
      await withDeps(async (deps) => {
        const target = jti !== undefined ? { jti } : o.family !== undefined ? { familyId: o.family as string } : { user: o.user as string };
        const r = await revokeTokens(deps, target, CLI);
        print(o.json, r, `revoked ${r.revoked} token(s)${'user' in target ? ` and ${r.sessions} SSO session(s)` : ''}`);
      });
    });
}
