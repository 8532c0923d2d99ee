// Behind PgBouncer in transaction mode (Debian's pgbouncer, started here in front of a private
// cluster): two server processes and this test's own pool, all with DATABASE_PREPARED_STATEMENTS=false
// and DATABASE_SESSION_TIMEOUTS=false, share a few server connections. The core journeys: migration and
// first key at start-up, hosted sign-in, refresh and replay across processes, rotation batches, one
// token raced on both processes, the OIDC code flow with PKCE (authorize on one process, code exchange
// on the other), the account API. Postgres runs only.
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createDeps, createLogger, type Deps } from '../../src/deps.js';
import { updateApp, type App } from '../../src/domain/apps/apps.js';
import { sha256 } from '../../src/lib/crypto.js';
import { openPostgres } from '../../src/storage/db.js';
import { freePort, TEST_SECRET } from '../helpers/app.js';
import { onPostgres } from '../helpers/db.js';
import { DEFAULT_REDIRECT, makeApp, makeUser } from '../helpers/factories.js';
import { csrfTokenOf, form } from '../helpers/http.js';
import { basicAuth, pkcePair, signIn as oidcSignIn } from '../helpers/oidc.js';
import { startPgBouncer, type PgBouncer } from '../helpers/pgbouncer.js';
import { startPrivateCluster, type PrivateCluster } from '../helpers/pg-cluster.js';
import { isAlive, spawnServer, type ServerProcess } from '../helpers/server-process.js';

const POOL_SIZE = 3; // server connections PgBouncer opens to Postgres for the database

describe.runIf(onPostgres())('behind PgBouncer in transaction mode (private cluster)', () => {
  let cluster: PrivateCluster;
  let bouncer: PgBouncer;
  let deps: Deps;
  let A: ServerProcess;
  let B: ServerProcess;
  let app: App;
  let clientSecret: string;
  let email: string;
  let password: string;

  beforeAll(async () => {
    cluster = await startPrivateCluster();
    await cluster.createDatabase('keymaster');
    bouncer = await startPgBouncer(cluster, { poolMode: 'transaction', poolSize: POOL_SIZE });
    const url = bouncer.url('keymaster');
    const [pa, pb] = [await freePort(), await freePort()];
    const issuer = `http://127.0.0.1:${pa}`; // one issuer, as behind a load balancer
    const env = {
      DATABASE_URL: url,
      DATABASE_POOL_MAX: '6',
      DATABASE_PREPARED_STATEMENTS: 'false',
      DATABASE_SESSION_TIMEOUTS: 'false',
      KEYMASTER_SECRET: TEST_SECRET,
      KEYMASTER_ISSUER: issuer,
      KEYMASTER_RATE_LIMIT_SCALE: '1000',
      KEYMASTER_REQUEST_LOG: 'false',
      KEYMASTER_KEY_POLL_SECONDS: '1',
    };
    // Both start at once: migration and the first signing key are decided under transaction-scoped
    // advisory locks, which PgBouncer's transaction mode keeps.
    [A, B] = await Promise.all([spawnServer(pa, env), spawnServer(pb, env)]);
    const config = loadConfig({ ...env, LOG_LEVEL: 'silent' });
    deps = await createDeps(config, { database: openPostgres(url, 4, false, { sessionSettings: false }), log: createLogger(config) });
    ({ app, clientSecret } = await makeApp(deps));
    ({
      user: { email },
      password,
    } = await makeUser(deps));
  }, 120_000);

  afterAll(async () => {
    await Promise.all([A?.stop(), B?.stop()]);
    await deps?.close();
    await bouncer?.stop();
    await cluster?.stop();
  }, 60_000);

  const refresh = (s: ServerProcess, token: string, appId = app.appId) =>
    fetch(`${s.url}/token/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: token, app_id: appId }),
    });

  async function hostedSignIn(s: ServerProcess, a: App = app) {
    const page = await fetch(`${s.url}/login?app_id=${a.appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}`);
    const cookie = page.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const res = await fetch(`${s.url}/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: form({ _csrf: csrfTokenOf(await page.text()), app_id: a.appId, redirect_uri: DEFAULT_REDIRECT, email, password }),
    });
    expect(res.status).toBe(303);
    const loc = new URL(res.headers.get('location')!);
    return { refresh: loc.searchParams.get('refresh_token')!, access: loc.searchParams.get('access_token')! };
  }

  it('really runs through PgBouncer in transaction mode, on at most its pool of server connections', async () => {
    const config = await bouncer.admin<{ key: string; value: string }>('SHOW CONFIG');
    expect(config.find((r) => r.key === 'pool_mode')?.value).toBe('transaction');
    await Promise.all(Array.from({ length: 30 }, () => hostedSignIn(A)));
    const pools = await bouncer.admin<{ database: string; sv_active: number; sv_idle: number; sv_used: number }>('SHOW POOLS');
    const pool = pools.find((p) => p.database === 'keymaster')!;
    expect(Number(pool.sv_active) + Number(pool.sv_idle) + Number(pool.sv_used)).toBeLessThanOrEqual(POOL_SIZE);
    // Postgres itself sees no more client connections to the database than PgBouncer's pool.
    const { rows } = await (
      await import('kysely')
    ).sql<{ n: number }>`
      select count(*)::int as n from pg_stat_activity where datname = 'keymaster' and backend_type = 'client backend'`.execute(deps.db);
    expect(rows[0]!.n).toBeLessThanOrEqual(POOL_SIZE);
  });

  it('sign-in on A, refresh on B, on A again; the rotated token replayed on B (strict app) revokes the family', async () => {
    const first = await hostedSignIn(A);
    const onB = await refresh(B, first.refresh);
    expect(onB.status).toBe(200);
    const onA = await refresh(A, ((await onB.json()) as { refresh_token: string }).refresh_token);
    expect(onA.status).toBe(200);

    const strict = await updateApp(deps, (await makeApp(deps)).app.appId, { refreshReuseInterval: 0 });
    const s = await hostedSignIn(A, strict);
    expect((await refresh(A, s.refresh, strict.appId)).status).toBe(200);
    expect((await refresh(B, s.refresh, strict.appId)).status).toBe(401);
    const family = await deps.db
      .selectFrom('refresh_tokens')
      .select('family_id')
      .where('token_hash', '=', sha256(s.refresh))
      .executeTakeFirstOrThrow();
    const rows = await deps.db.selectFrom('refresh_tokens').select('revoked_at').where('family_id', '=', family.family_id).execute();
    expect(rows.every((r) => r.revoked_at)).toBe(true);
  });

  it('rotation batches: 40 chains rotating on both processes at once, 3 rounds; one token raced on A and B', async () => {
    let tokens = await Promise.all(Array.from({ length: 40 }, async () => (await hostedSignIn(A)).refresh));
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all(tokens.map((t, i) => refresh(i % 2 ? B : A, t)));
      expect(answers.map((r) => r.status)).toEqual(answers.map(() => 200));
      tokens = await Promise.all(answers.map(async (r) => ((await r.json()) as { refresh_token: string }).refresh_token));
    }
    const raced = await Promise.all(Array.from({ length: 10 }, (_, i) => refresh(i % 2 ? B : A, tokens[0]!)));
    expect(raced.map((r) => r.status)).toEqual(raced.map(() => 200));
    const successors = new Set(await Promise.all(raced.map(async (r) => ((await r.json()) as { refresh_token: string }).refresh_token)));
    expect(successors.size).toBe(1);
  });

  it('OIDC code flow with PKCE: authorize and sign in on A, exchange the code on B, ID token verified against B’s JWKS', async () => {
    const { verifier, challenge } = pkcePair();
    const authorize = new URL(`${A.url}/authorize`);
    for (const [k, v] of Object.entries({
      client_id: app.appId,
      redirect_uri: DEFAULT_REDIRECT,
      response_type: 'code',
      scope: 'openid profile email offline_access',
      state: 'st-1',
      nonce: 'n-1',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }))
      authorize.searchParams.set(k, v);
    const { callback } = await oidcSignIn(authorize, email, password);
    const code = callback.searchParams.get('code')!;
    expect(code).toBeTruthy();
    const token = await fetch(`${B.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(app.appId, clientSecret) },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: DEFAULT_REDIRECT,
        code_verifier: verifier,
      }).toString(),
    });
    expect(token.status).toBe(200);
    const body = (await token.json()) as { id_token: string; refresh_token: string; access_token: string };
    const jwks = createRemoteJWKSet(new URL(`${B.url}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(body.id_token, jwks, { audience: app.appId, issuer: A.url });
    expect(payload.nonce).toBe('n-1');
    // The refresh_token grant on A, with a new ID token.
    const again = await fetch(`${A.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(app.appId, clientSecret) },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: body.refresh_token }).toString(),
    });
    expect(again.status).toBe(200);
    const next = (await again.json()) as { id_token: string };
    expect((await jwtVerify(next.id_token, jwks, { audience: app.appId })).payload.sub).toBe(payload.sub);
    // A second use of the code on A is refused (single use, decided in Postgres through PgBouncer).
    const reuse = await fetch(`${A.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(app.appId, clientSecret) },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: DEFAULT_REDIRECT,
        code_verifier: verifier,
      }).toString(),
    });
    expect(reuse.status).toBe(400);
  });

  it('the account API: login on B, /me on A, the session list on B', async () => {
    const login = await fetch(`${B.url}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password, app_id: app.appId }),
    });
    expect(login.status).toBe(200);
    const { access_token } = (await login.json()) as { access_token: string };
    const me = await fetch(`${A.url}/api/v1/auth/me`, { headers: { authorization: `Bearer ${access_token}` } });
    expect(me.status).toBe(200);
    expect(((await me.json()) as { email: string }).email).toBe(email);
    const sessions = await fetch(`${B.url}/api/v1/auth/sessions`, { headers: { authorization: `Bearer ${access_token}` } });
    expect(sessions.status).toBe(200);
  });

  it('both processes stayed up and logged no error', () => {
    for (const s of [A, B]) {
      expect(isAlive(s.child.pid!)).toBe(true);
      expect(s.logs.filter((l) => (l.level as number) >= 50)).toEqual([]);
    }
  });
});
