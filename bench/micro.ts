// Micro-benchmark of the refresh path's parts, in process (no HTTP): CPU µs per call of each part.
//   taskset -c 0 node --import tsx bench/micro.ts [postgres admin url]
import { randomUUID, type KeyObject } from 'node:crypto';
import pg from 'pg';
import { loadConfig } from '../src/config.js';
import { createDeps } from '../src/deps.js';
import { createApp } from '../src/domain/apps/apps.js';
import { rotateRefreshToken, issueTokens } from '../src/domain/tokens/refresh-tokens.js';
import { createUser } from '../src/domain/users/users.js';
import { sql } from 'kysely';

const admin = process.argv[2] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const name = `km_micro_${Date.now()}`;
const a = new pg.Client({ connectionString: admin });
await a.connect();
await a.query(`create database ${name}`);
const url = new URL(admin);
url.pathname = `/${name}`;
try {
  const config = loadConfig({
    DATABASE_URL: url.toString(),
    KEYMASTER_SECRET: 'micro-secret-0123456789abcdef0123456789abcdef',
    LOG_LEVEL: 'warn',
  });
  const deps = await createDeps(config);
  const { app } = await createApp(deps, { name: 'Micro', redirectUris: ['https://x.example/cb'] });
  const user = await createUser(deps, {
    email: `m-${randomUUID()}@example.com`,
    password: 'Micro-Password-9!',
    name: 'M',
    verified: true,
  });
  // Roles are per app (memberships, issue 14): the user is a member of the app, as a sign-in enrols.
  await deps.db
    .insertInto('memberships')
    .values({ user_id: user.id, app_id: app.appId, roles: ['user'] })
    .execute();
  const N = Number(process.env.MICRO_N ?? 2000);
  const C = 16;
  async function measure(label: string, n: number, fn: (i: number) => Promise<unknown>) {
    let next = 0;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: C }, async () => {
        while (next < n) await fn(next++);
      }),
    );
    const c = process.cpuUsage(c0);
    console.log(
      `${label.padEnd(28)} cpu ${((c.user + c.system) / n).toFixed(0).padStart(5)} µs/call (user ${(c.user / n).toFixed(0)}, sys ${(c.system / n).toFixed(0)}), wall ${(((performance.now() - t0) * 1000) / n).toFixed(0)} µs/call`,
    );
  }
  if (process.env.MICRO_SIGNIN) {
    const { authenticatePassword } = await import('../src/domain/users/users.js');
    const { verifyPassword } = await import('../src/domain/users/passwords.js');
    const row = await deps.db.selectFrom('users').select('password_hash').where('id', '=', user.id).executeTakeFirstOrThrow();
    await measure('verifyPassword', 100, () => verifyPassword(row.password_hash, 'Micro-Password-9!'));
    await measure('authenticatePassword', 100, () =>
      authenticatePassword(deps, { email: user.email, password: 'Micro-Password-9!', appId: app.appId }, { ip: '127.0.0.1' }),
    );
    await measure('verifyPassword', 100, () => verifyPassword(row.password_hash, 'Micro-Password-9!'));
  }
  const tokens: string[] = [];
  await measure('issueTokens (sign-in)', N, async () =>
    tokens.push((await issueTokens(deps, { ...user, roles: ['user'] }, app)).refreshToken),
  );
  await measure('select 1 (kysely sql``)', N, () => sql`select 1`.execute(deps.db));
  const { CompiledQuery } = await import('kysely');
  await measure('select 1 (CompiledQuery.raw)', N, () => deps.db.executeQuery(CompiledQuery.raw('select 1', [])));
  const { createSign } = await import('node:crypto');
  const pk = (deps.keys as unknown as { active: { privateKey: KeyObject } }).active.privateKey;
  const payload = Buffer.from('eyJhbGciOiJSUzI1NiIsImtpZCI6ImsiLCJ0eXAiOiJhdCtqd3QifQ.' + 'x'.repeat(300));
  await measure('createSign (ceiling way)', N, async () => createSign('RSA-SHA256').update(payload).sign(pk));
  await measure('keys.sign', N, () => deps.keys.sign({ sub: 'x', aud: 'y', iat: 1, exp: 2 }, 'at+jwt'));
  await measure('rotateRefreshToken', N, (i) => rotateRefreshToken(deps, { refreshToken: tokens[i]!, appId: app.appId }));
  await deps.close();
} finally {
  await a.query(`drop database if exists ${name} with (force)`);
  await a.end();
}
