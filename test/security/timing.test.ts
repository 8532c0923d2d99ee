// Timing (DESIGN.md §4.2, §4.9): an unknown email and a wrong password must cost the same, since both
// run exactly one argon2 verification. Timing on a shared CI machine is noise, so this test MEASURES
// and REPORTS the medians (and their ratio) instead of asserting a time; it fails only if it could not
// measure. Requests that must answer alike whatever the email (issue 21: password-reset requests) are
// held to a generous bound on the ratio of their medians. A static scan checks that no secret is
// compared with === in src/.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { DEFAULT_REDIRECT, makeApp, makeUser } from '../helpers/factories.js';
import { cookieHeader, form, FORM } from '../helpers/http.js';
import { openLoginPage } from '../helpers/security.js';

const TRIES = 50;
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ env: { KEYMASTER_RATE_LIMIT_SCALE: '100000', KEYMASTER_LOCKOUT_THRESHOLD: '1000', LOG_LEVEL: 'warn' } });
});
afterAll(() => ctx.close());

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

describe('sign-in timing', () => {
  it(`unknown email vs wrong password: median latency over ${TRIES} tries each (reported, not asserted)`, async () => {
    const { app } = await makeApp(ctx.deps);
    const { user } = await makeUser(ctx.deps);
    const page = await openLoginPage(ctx, app.appId);
    const attempt = async (email: string) => {
      const t0 = process.hrtime.bigint();
      const res = await ctx.app.inject({
        method: 'POST',
        url: '/login',
        headers: { ...FORM, cookie: cookieHeader(page.cookies) },
        payload: form({
          _csrf: page.csrf,
          app_id: app.appId,
          redirect_uri: DEFAULT_REDIRECT,
          email,
          password: `wrong-${randomBytes(4).toString('hex')}`,
        }),
      });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      expect(res.statusCode).toBe(401);
      return { ms, body: res.body };
    };
    await attempt(user.email); // warm-up: the dummy hash and argon2 pool
    await attempt(`warm-${randomBytes(4).toString('hex')}@example.com`);
    const unknown: number[] = [];
    const wrong: number[] = [];
    // Interleaved so both series see the same background load.
    for (let i = 0; i < TRIES; i++) {
      const a = await attempt(`nobody-${randomBytes(6).toString('hex')}@example.com`);
      const b = await attempt(user.email);
      unknown.push(a.ms);
      wrong.push(b.ms);
      // Same status, same message, whichever case.
      const message = (html: string) => /<div class="error" role="alert"[^>]*>([^<]*)</.exec(html)?.[1];
      expect(message(a.body)).toBe('Incorrect email or password.');
      expect(message(b.body)).toBe(message(a.body));
    }
    const mu = median(unknown);
    const mw = median(wrong);
    const diff = Math.abs(mu - mw) / Math.max(mu, mw);
    console.log(
      `[timing] POST /login over ${TRIES} tries each: unknown email median ${mu.toFixed(1)} ms, wrong password median ${mw.toFixed(1)} ms, difference ${(diff * 100).toFixed(1)}% (target < 10%)`,
    );
    expect(unknown).toHaveLength(TRIES);
    expect(wrong).toHaveLength(TRIES);
    expect(Number.isFinite(diff)).toBe(true);
  }, 120_000);
});

// Requests whose answer must not say whether an account exists, by its content or by its time: the work
// that differs runs after the answer (deps.background). Each case sends the same request for a known
// and an unknown email; the resend-verification case joins this table when that endpoint lands.
const EQUAL_TIME_TRIES = 60;
// Generous: with the work on the response path the known email was 1.57-1.86x slower (PGlite and
// Postgres, on a loaded machine); with it after the answer, 1.02-1.04x.
const EQUAL_TIME_BOUND = 1.35;
const EQUAL_TIME_CASES: {
  name: string;
  send: (t: TestContext, email: string, ip: string) => Promise<{ statusCode: number; body: string }>;
}[] = [
  {
    name: 'POST /api/v1/auth/password-reset/request',
    send: (t, email, ip) =>
      t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/password-reset/request',
        remoteAddress: ip,
        headers: { 'content-type': 'application/json' },
        payload: { email },
      }),
  },
];

describe('equal answers whatever the email', () => {
  // The documented limits are exact (one upsert a request); scaled past 100 they would be counted in
  // memory and flushed on a timer, whose flushes land on random tries. 99 a window is exact and enough.
  let t: TestContext;
  beforeAll(async () => {
    t = await createTestContext({ env: { KEYMASTER_RATE_LIMIT_EMAIL: '99', KEYMASTER_RATE_LIMIT_IP: '99', LOG_LEVEL: 'warn' } });
  });
  afterAll(() => t.close());

  for (const c of EQUAL_TIME_CASES) {
    it(`${c.name}: known vs unknown email, medians over ${EQUAL_TIME_TRIES} interleaved tries within ${EQUAL_TIME_BOUND}x`, async () => {
      const { user } = await makeUser(t.deps);
      // One unknown address, asked again and again like the known one: both touch an existing counter row.
      const nobody = `nobody-${randomBytes(6).toString('hex')}@example.com`;
      const attempt = async (email: string) => {
        const t0 = process.hrtime.bigint();
        // Each email from its own address (a window holds 99 requests an address).
        const res = await c.send(t, email, email === user.email ? '192.0.2.1' : '192.0.2.2');
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        // What a try left running (the known email's lookup, token and email) must not land on the next one.
        await t.deps.background.idle();
        return { ms, res };
      };
      for (let i = 0; i < 3; i++) {
        await attempt(user.email);
        await attempt(nobody);
      }
      const known: number[] = [];
      const unknown: number[] = [];
      for (let i = 0; i < EQUAL_TIME_TRIES; i++) {
        // Alternate which goes first, so neither always follows the other.
        const order = i % 2 ? (['known', 'unknown'] as const) : (['unknown', 'known'] as const);
        for (const which of order) {
          const a = await attempt(which === 'known' ? user.email : nobody);
          expect(a.res.statusCode).toBe(200);
          (which === 'known' ? known : unknown).push(a.ms);
        }
      }
      const mk = median(known);
      const mu = median(unknown);
      const ratio = Math.max(mk, mu) / Math.min(mk, mu);
      console.log(
        `[timing] ${c.name} over ${EQUAL_TIME_TRIES} tries each: known email median ${mk.toFixed(2)} ms, unknown ${mu.toFixed(2)} ms, ratio ${ratio.toFixed(2)} (bound ${EQUAL_TIME_BOUND})`,
      );
      expect(ratio).toBeLessThan(EQUAL_TIME_BOUND);
      // The known email's work did happen, after the answer.
      const sent = await t.deps.db.selectFrom('email_outbox').select('id').where('to_address', '=', user.email).execute();
      expect(sent.length).toBeGreaterThanOrEqual(EQUAL_TIME_TRIES);
    }, 120_000);
  }
});

describe('secret comparisons', () => {
  const SECRETISH = /(secret|token|hash|password|signature|csrf|verifier|cookie)/i;
  const LITERAL = /^(['"`].*|\d+|null|undefined|true|false)$/;
  function* files(dir: string): Generator<string> {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) yield* files(p);
      else if (p.endsWith('.ts')) yield p;
    }
  }
  it('no secret in src/ is compared with === or !== (safeEqual or a hash lookup instead)', () => {
    const offenders: string[] = [];
    for (const file of files(join(process.cwd(), 'src'))) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          for (const m of line.matchAll(/([\w.$[\]'"`-]+)\s*[!=]==\s*([\w.$[\]'"`-]+)/g)) {
            const [, a, b] = m as unknown as [string, string, string];
            if (LITERAL.test(a) || LITERAL.test(b)) continue; // a literal is a tag or a length, never a secret
            if (/typeof|\.length$|\.code$|_type$|\.kid$|\.state$/.test(a) || /\.length$|\.kid$/.test(b)) continue;
            if (SECRETISH.test(a) || SECRETISH.test(b)) offenders.push(`${file.replace(process.cwd(), '')}:${i + 1}: ${line.trim()}`);
          }
        });
    }
    expect(offenders).toEqual([]);
  });
});
