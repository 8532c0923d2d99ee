// Two real server processes on one Postgres database behave as one server. Postgres only: embedded
// PGlite is single-process by design.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createDeps, createLogger, type Deps } from '../../src/deps.js';
import { updateApp, type App } from '../../src/domain/apps/apps.js';
import { DAY } from '../../src/lib/clock.js';
import { freePort, TEST_SECRET } from '../helpers/app.js';
import { createTestDatabase, onPostgres, type TestDatabase } from '../helpers/db.js';
import { DEFAULT_REDIRECT, makeApp, makeUser } from '../helpers/factories.js';
import { csrfTokenOf, form } from '../helpers/http.js';

interface Server {
  url: string;
  child: ChildProcess;
  logs: Record<string, unknown>[];
}

let database: TestDatabase;
let deps: Deps;
let issuer: string;
const servers: Server[] = [];

function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATABASE_URL: database.url!,
    DATABASE_POOL_MAX: '4',
    KEYMASTER_SECRET: TEST_SECRET,
    KEYMASTER_ISSUER: issuer,
    KEYMASTER_MANAGEMENT_ENABLED: 'false',
    KEYMASTER_KEY_POLL_SECONDS: '1',
    KEYMASTER_PRUNE_INTERVAL_SECONDS: '1',
    KEYMASTER_PRUNE_BATCH_SIZE: '10',
    LOG_LEVEL: 'info',
    ...extra,
  };
}

async function startServer(port: number): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: childEnv({ PORT: String(port) }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const server: Server = { url: `http://127.0.0.1:${port}`, child, logs: [] };
  servers.push(server);
  let buf = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server on ${port} did not start: ${stderr}`)), 45_000);
    child.once('exit', (code) => reject(new Error(`server on ${port} exited with ${code}: ${stderr}`)));
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const line of lines) {
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          server.logs.push(entry);
          if (entry.event === 'server.started') {
            clearTimeout(timer);
            resolve();
          }
        } catch {
          // not a log line
        }
      }
    });
  });
  return server;
}

async function stopServer(s: Server): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  const exited = new Promise<void>((r) => s.child.once('exit', () => r()));
  s.child.kill('SIGTERM');
  const timer = setTimeout(() => s.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Polls `check` until it returns a value (bounded); the test never depends on how long it took. */
async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Hosted sign-in on one server; returns the tokens from the redirect. */
async function signIn(base: string, app: App, email: string, password: string) {
  const page = await fetch(`${base}/login?app_id=${app.appId}&redirect_uri=${encodeURIComponent(DEFAULT_REDIRECT)}`);
  const cookie = page.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const csrf = csrfTokenOf(await page.text());
  const res = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
    body: form({ _csrf: csrf, app_id: app.appId, redirect_uri: DEFAULT_REDIRECT, email, password }),
  });
  expect(res.status).toBe(303);
  const loc = new URL(res.headers.get('location')!);
  return { refresh: loc.searchParams.get('refresh_token')!, access: loc.searchParams.get('access_token')! };
}

const refresh = (base: string, appId: string, token: string, ua: string) =>
  fetch(`${base}/token/refresh`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': ua },
    body: JSON.stringify({ refresh_token: token, app_id: appId }),
  });

const familyOf = async (refreshToken: string) => {
  const { sha256 } = await import('../../src/lib/crypto.js');
  const row = await deps.db
    .selectFrom('refresh_tokens')
    .select('family_id')
    .where('token_hash', '=', sha256(refreshToken))
    .executeTakeFirstOrThrow();
  return deps.db.selectFrom('refresh_tokens').selectAll().where('family_id', '=', row.family_id).execute();
};

describe.runIf(onPostgres())('two server processes on one Postgres', () => {
  let A: Server;
  let B: Server;
  let app: App;
  let strictApp: App;
  let email: string;
  let password: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    const [portA, portB] = [await freePort(), await freePort()];
    issuer = `http://localhost:${portA}`;
    const config = loadConfig({ KEYMASTER_SECRET: TEST_SECRET, KEYMASTER_ISSUER: issuer, LOG_LEVEL: 'silent' });
    deps = await createDeps(config, { database, log: createLogger(config) });
    app = (await makeApp(deps)).app;
    strictApp = await updateApp(deps, (await makeApp(deps)).app.appId, { refreshReuseInterval: 0 });
    ({
      user: { email },
      password,
    } = await makeUser(deps));
    [A, B] = await Promise.all([startServer(portA), startServer(portB)]);
  }, 90_000);

  afterAll(async () => {
    await Promise.all(servers.map(stopServer));
    await deps?.close();
  }, 30_000);

  it('a token minted on A refreshes on B; the same token sent to A and B at once gives one live successor', async () => {
    const minted = await signIn(A.url, app, email, password);
    const onB = await refresh(B.url, app.appId, minted.refresh, 'b');
    expect(onB.status).toBe(200);
    const t1 = (await onB.json()).refresh_token as string;

    const [ra, rb] = await Promise.all([refresh(A.url, app.appId, t1, 'tab-a'), refresh(B.url, app.appId, t1, 'tab-b')]);
    expect([ra.status, rb.status]).toEqual([200, 200]);
    const [ja, jb] = [await ra.json(), await rb.json()];
    expect(ja.refresh_token).toBe(jb.refresh_token);
    const rows = await familyOf(minted.refresh);
    expect(new Set(rows.map((r) => r.family_id)).size).toBe(1);
    expect(rows.filter((r) => !r.rotated_at && !r.revoked_at)).toHaveLength(1);
  });

  it('with strict rotation, racing presenters on A and B: exactly one wins', async () => {
    const minted = await signIn(A.url, strictApp, email, password);
    const [ra, rb] = await Promise.all([
      refresh(A.url, strictApp.appId, minted.refresh, 'a'),
      refresh(B.url, strictApp.appId, minted.refresh, 'b'),
    ]);
    expect([ra.status, rb.status].sort()).toEqual([200, 401]);
    const rows = await familyOf(minted.refresh);
    expect(rows.filter((r) => !r.rotated_at && !r.revoked_at)).toHaveLength(0); // the loser's replay revoked the family
  });

  it('a replay on B revokes the family minted on A, and only that family', async () => {
    const minted = await signIn(A.url, strictApp, email, password);
    const otherDevice = await signIn(A.url, strictApp, email, password);
    expect((await refresh(A.url, strictApp.appId, minted.refresh, 'phone')).status).toBe(200);
    expect((await refresh(B.url, strictApp.appId, minted.refresh, 'thief')).status).toBe(401);
    expect((await familyOf(minted.refresh)).every((r) => r.revoked_at)).toBe(true);
    expect((await familyOf(otherDevice.refresh)).some((r) => !r.revoked_at)).toBe(true);
    const audit = await deps.db
      .selectFrom('audit_events')
      .selectAll()
      .where('event', '=', 'refresh_token.replay')
      .where('app_id', '=', strictApp.appId)
      .execute();
    expect(
      audit.some(
        (a) =>
          (a.data as { first_presenter?: { user_agent?: string } }).first_presenter?.user_agent === 'phone' && a.user_agent === 'thief',
      ),
    ).toBe(true);
  });

  it('a key rotated by the CLI appears in both JWKS without a restart', async () => {
    const etagA = (await fetch(`${A.url}/.well-known/jwks.json`)).headers.get('etag')!;
    const cli = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'keys', 'rotate', '--json'], {
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    cli.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((r) => cli.once('exit', r));
    expect(code).toBe(0);
    const { kid, state } = JSON.parse(out) as { kid: string; state: string };
    expect(state).toBe('next');
    for (const s of [A, B]) {
      await eventually(async () => {
        const body = (await (await fetch(`${s.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
        return body.keys.some((k) => k.kid === kid) ? true : undefined;
      }, `kid ${kid} in ${s.url} JWKS`);
    }
    const revalidated = await fetch(`${A.url}/.well-known/jwks.json`, { headers: { 'if-none-match': etagA } });
    expect(revalidated.status).toBe(200);
  });

  it('the prune job runs on both processes without double work', async () => {
    const user = await deps.db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirstOrThrow();
    const longAgo = new Date(Date.now() - 60 * DAY);
    const N = 95;
    const familyId = randomUUID();
    await deps.db
      .insertInto('refresh_tokens')
      .values(
        Array.from({ length: N }, () => ({
          token_hash: randomBytes(32).toString('hex'),
          family_id: familyId,
          app_id: app.appId,
          user_id: user.id,
          claims: '{}',
          created_at: longAgo,
          expires_at: new Date(longAgo.getTime() + DAY),
        })),
      )
      .execute();
    const before = (s: Server) => s.logs.length;
    const marks = [before(A), before(B)];
    const prunedBy = (s: Server, from: number) =>
      s.logs
        .slice(from)
        .filter((l) => l.event === 'prune.done')
        .flatMap((l) => l.results as { name: string; affected: number }[])
        .filter((r) => r.name === 'refresh_tokens')
        .reduce((n, r) => n + r.affected, 0);
    const total = await eventually(async () => {
      const left = await deps.db.selectFrom('refresh_tokens').select('jti').where('family_id', '=', familyId).execute();
      const sum = prunedBy(A, marks[0]!) + prunedBy(B, marks[1]!);
      // Both processes have run the job since the rows went in (each logs every run, even an empty one).
      const ranOnBoth = [A, B].every((s, i) => s.logs.slice(marks[i]).some((l) => l.event === 'prune.done'));
      return left.length === 0 && sum >= N && ranOnBoth ? sum : undefined;
    }, 'both prune jobs to run');
    // Every expired row was deleted exactly once across the two processes.
    expect(total).toBe(N);
  });
});
