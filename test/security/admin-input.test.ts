// Hostile input to every /admin route (DESIGN.md §4.10, §7.13), sent with a platform admin's token so
// that it gets as deep as it can: bad path parameters (not a UUID, 10k characters, a URL Fastify
// cannot decode), malformed, forged and extra-element cursors on every list, search strings with
// LIKE's own characters, bad limits, wrong JSON types, unknown fields, oversized and malformed bodies,
// and fast-check bodies for every route that takes one. Each refusal must be a 4xx `{detail}` (never a
// 500, never Fastify's own error body), and the rows of apps, users, memberships, invites, audit
// events and refresh tokens must be exactly as they were. The routes come from the app's route table,
// so a route added later is covered (a body route also needs an entry in VALID_BODIES).
// Then the findings of the review, each a test that failed before its fix: a second file part on the
// logo upload, a path parameter over Fastify's maxParamLength, extra-element cursors, the service
// token's user creation and the app changes each in one transaction, wildcard redirect URIs.
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteEntry } from '../../src/http/plugins/route-hooks.js';
import { LOGO_CSP } from '../../src/http/routes/logos.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { enrol, makeAdminWorld, type AdminWorld } from '../helpers/admin-world.js';
import { consoleToken, serviceToken } from '../helpers/admin.js';
import { issueSetupLink } from '../../src/domain/admin/bootstrap.js';
import { DEFAULT_PASSWORD, makeUser } from '../helpers/factories.js';
import { cookieHeader, cookiesOf, csrfTokenOf, form, FORM } from '../helpers/http.js';
import { signIn } from '../helpers/sign-in.js';
import { linkIn, startSmtpCapture } from '../helpers/smtp.js';

let ctx: TestContext;
let w: AdminWorld;
/** Real ids for the path parameters, so that only the hostile value is wrong. */
let ids: { inviteId: string; webhookId: string; grantId: string; familyId: string; jti: string };

const TABLES = ['apps', 'users', 'memberships', 'invites', 'audit_events', 'refresh_tokens'] as const;

/** The rows of the main tables, sorted (heap order may change; contents may not). */
async function rows(): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const t of TABLES) {
    const all = await ctx.deps.db.selectFrom(t).selectAll().execute();
    out[t] = all.map((r) => JSON.stringify(r, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v))).sort();
  }
  return out;
}

/** A refusal in the Admin API's shape: a 4xx, JSON, exactly `{detail}` (Fastify's body has statusCode, code, error, message). */
function expectRefusal(res: LightMyRequestResponse, label: string): void {
  expect(res.statusCode, `${label}: ${res.statusCode} ${res.body.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
  expect(res.statusCode, `${label}: ${res.body.slice(0, 300)}`).toBeLessThan(500);
  expect(String(res.headers['content-type']), label).toMatch(/^application\/json/);
  const body = res.json() as Record<string, unknown>;
  expect(Object.keys(body), `${label}: ${res.body.slice(0, 300)}`).toEqual(['detail']);
  expect(typeof body.detail, label).toBe('string');
}

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v), 'utf8').toString('base64url');

beforeAll(async () => {
  ctx = await createTestContext({ env: { KEYMASTER_RATE_LIMIT_SCALE: '100000', LOG_LEVEL: 'warn' } });
  w = await makeAdminWorld(ctx);
  const h = w.platform.headers;
  // Two of everything a list pages, so each list hands out a real cursor at limit=1.
  const { user: second } = await makeUser(ctx.deps);
  await enrol(ctx, second.id, w.a1.appId);
  for (const email of ['invitee-1@example.com', 'invitee-2@example.com']) {
    const res = await ctx.app.inject({ method: 'POST', url: '/admin/invites', headers: h, payload: { app_id: w.a1.appId, email } });
    expect(res.statusCode, res.body).toBe(201);
  }
  const password = 'Str0ng-Passw0rd!';
  const { user: signer } = await makeUser(ctx.deps, { password });
  await enrol(ctx, signer.id, w.a1.appId);
  await signIn(ctx, w.a1.appId, signer.email, password);
  await signIn(ctx, w.a1.appId, signer.email, password);
  const hook = await ctx.app.inject({
    method: 'POST',
    url: `/admin/apps/${w.a1.appId}/webhooks`,
    headers: h,
    payload: { url: 'https://hooks.example.com/keymaster', events: ['user.signup'] },
  });
  expect(hook.statusCode, hook.body).toBe(201);
  const token = await ctx.deps.db
    .selectFrom('refresh_tokens')
    .select(['jti', 'family_id'])
    .where('user_id', '=', signer.id)
    .executeTakeFirstOrThrow();
  const grant = await ctx.deps.db
    .selectFrom('admin_grants')
    .select('id')
    .where('user_id', '=', w.managerA1.user.id)
    .executeTakeFirstOrThrow();
  const invite = await ctx.deps.db.selectFrom('invites').select('id').where('app_id', '=', w.a1.appId).executeTakeFirstOrThrow();
  ids = {
    inviteId: invite.id,
    webhookId: (hook.json() as { id: string }).id,
    grantId: grant.id,
    familyId: token.family_id,
    jti: token.jti,
  };
  // The user whose sessions and tokens the per-user routes list.
  userForTokens = signer.id;
});
afterAll(() => ctx.close());

let userForTokens: string;

/** The admin routes, from the app's own route table (HEAD twins and the public OpenAPI document left out). */
function adminRoutes(): RouteEntry[] {
  return ctx.app.routeTable.filter((r) => r.url.startsWith('/admin/') && r.method !== 'HEAD' && r.config?.adminAuth !== 'public');
}

function paramNames(url: string): string[] {
  return [...url.matchAll(/:([a-z_]+)/g)].map((m) => m[1]!);
}

/** A real value for each path parameter. */
function validParam(url: string, name: string): string {
  switch (name) {
    case 'app_id':
      return w.a1.appId;
    case 'user_id':
      return url.includes('/sessions') || url.includes('/refresh-tokens') || url.includes('/sign-out') ? userForTokens : w.uA1.id;
    case 'invite_id':
      return ids.inviteId;
    case 'session_id':
      return ids.familyId;
    case 'jti':
      return ids.jti;
    case 'delivery_id':
      // No failed delivery exists: with the other parameter hostile the answer is a 4xx all the same.
      return randomUUID();
    case 'id':
      if (url.startsWith('/admin/webhooks')) return ids.webhookId;
      if (url.startsWith('/admin/tenants')) return w.tenantB.id;
      if (url.startsWith('/admin/admins')) return ids.grantId;
      return randomUUID();
    default:
      throw new Error(`no value for the path parameter ${name} of ${url}: add one`);
  }
}

function urlOf(route: RouteEntry, override: Record<string, string> = {}): string {
  return route.url.replace(/:([a-z_]+)/g, (_m, name: string) => override[name] ?? encodeURIComponent(validParam(route.url, name)));
}

/** A valid body per route (so a test that breaks one field proves that field is checked). */
function validBody(route: RouteEntry): Record<string, unknown> {
  const key = `${route.method} ${route.url}`;
  const bodies: Record<string, () => Record<string, unknown>> = {
    'POST /admin/apps': () => ({ name: 'Fuzzed', tenant_id: w.tenantA.id, config: { redirect_uris: ['https://fuzz.example.com/cb'] } }),
    'PUT /admin/apps/:app_id': () => ({ name: 'Renamed' }),
    'POST /admin/users': () => ({ email: `new-${randomUUID()}@example.com` }),
    'PATCH /admin/users/:user_id': () => ({ display_name: 'New Name' }),
    'PUT /admin/users/:user_id/roles': () => ({ app_id: w.a1.appId, roles: ['user'] }),
    'POST /admin/tenants': () => ({ name: 'Fuzz tenant' }),
    'PUT /admin/tenants/:id': () => ({ name: 'Renamed tenant' }),
    'POST /admin/admins': () => ({ user_id: w.uA1.id, tier: 'manager', app_id: w.a1.appId }),
    'POST /admin/invites': () => ({ app_id: w.a1.appId, email: `inv-${randomUUID()}@example.com` }),
    'POST /admin/apps/:app_id/refresh-keys': () => ({ audience: w.a1.appId, lifetime: 3600 }),
    'POST /admin/apps/:app_id/webhooks': () => ({ url: 'https://hooks.example.com/x', events: ['user.signup'] }),
    'POST /admin/keys/rotate': () => ({ immediately: false }),
  };
  const make = bodies[key];
  if (!make) throw new Error(`no valid body for ${key}: add one to validBody`);
  return make();
}

/** The keys of a zod object schema (through refine/pipe/optional), or [] if it has none. */
function shapeKeys(schema: unknown): string[] {
  let s = schema as { shape?: Record<string, unknown>; _zod?: { def?: { in?: unknown; innerType?: unknown } } } | undefined;
  for (let i = 0; s && i < 5; i++) {
    if (s.shape) return Object.keys(s.shape);
    s = (s._zod?.def?.in ?? s._zod?.def?.innerType) as typeof s;
  }
  return [];
}

const hasBody = (r: RouteEntry) => r.schema?.body !== undefined;

async function call(route: RouteEntry, opts: Partial<InjectOptions> & { url?: string } = {}) {
  const payload = opts.payload ?? (hasBody(route) ? validBody(route) : undefined);
  return ctx.app.inject({
    method: route.method as InjectOptions['method'],
    url: opts.url ?? urlOf(route),
    ...opts,
    headers: { ...w.platform.headers, ...opts.headers },
    ...(payload !== undefined && { payload }),
  } as InjectOptions);
}

/** Runs the requests, each must be refused; then the main tables must be as they were. */
async function allRefused(cases: [string, () => Promise<LightMyRequestResponse>][]): Promise<void> {
  const before = await rows();
  for (const [label, send] of cases) expectRefusal(await send(), label);
  expect(await rows()).toEqual(before);
}

describe('every /admin route refuses hostile input with a 4xx {detail} and writes nothing', () => {
  it('covers the routes it knows (a new route with a body needs a valid body here)', () => {
    const routes = adminRoutes();
    expect(routes.length).toBeGreaterThan(40);
    for (const r of routes.filter(hasBody)) expect(() => validBody(r)).not.toThrow();
  });

  it('bad path parameters: not a UUID, 10k characters, a NUL, a bad percent-encoding, traversal', async () => {
    const cases: [string, () => Promise<LightMyRequestResponse>][] = [];
    for (const route of adminRoutes()) {
      for (const name of paramNames(route.url)) {
        for (const [label, value] of [
          ['not a uuid', 'not-a-uuid'],
          ['10k characters', 'x'.repeat(10_000)],
          ['101 characters', 'a'.repeat(101)],
          ['NUL', '%00'],
          ['bad percent-encoding', '%E0%A4%A'],
          ['SQL', encodeURIComponent("' OR '1'='1")],
          ['traversal', '..%2F..%2Fadmin'],
          ['uuid with a suffix', `${randomUUID()}x`],
        ] as const) {
          cases.push([`${route.method} ${route.url} ${name}=${label}`, () => call(route, { url: urlOf(route, { [name]: value }) })]);
        }
      }
    }
    expect(cases.length).toBeGreaterThan(100);
    await allRefused(cases);
  });

  it('bad limits and over-long or NUL query values on every route with a query', async () => {
    const cases: [string, () => Promise<LightMyRequestResponse>][] = [];
    for (const route of adminRoutes()) {
      for (const field of shapeKeys(route.schema?.querystring)) {
        const values: [string, string][] = [
          ['10k characters', 'x'.repeat(10_000)],
          ['NUL', '%00'],
        ];
        if (field === 'limit') values.push(['0', '0'], ['-1', '-1'], ['1e9', '1e9'], ['abc', 'abc'], ['1.5', '1.5'], ['empty', '']);
        for (const [label, value] of values) {
          cases.push([`${route.method} ${route.url}?${field}=${label}`, () => call(route, { url: `${urlOf(route)}?${field}=${value}` })]);
        }
      }
    }
    expect(cases.length).toBeGreaterThan(30);
    await allRefused(cases);
  });

  it('malformed, forged and extra-element cursors on every list', async () => {
    const lists = adminRoutes().filter((r) => shapeKeys(r.schema?.querystring).includes('cursor'));
    expect(lists.length).toBeGreaterThanOrEqual(10);
    const cases: [string, () => Promise<LightMyRequestResponse>][] = [];
    let real = 0;
    for (const route of lists) {
      const forged: [string, string][] = [
        ['not base64url', '!!!not-a-cursor!!!'],
        ['not JSON', b64('not json')],
        ['JSON null', b64(null)],
        ['a number', b64(42)],
        ['an empty array', b64([])],
        ['an empty object', b64({})],
        ['wrong types', b64([1, 2])],
        ['SQL in the id', b64(['2026-01-15T12:00:00.000Z', "' OR 1=1 --"])],
        ['three elements', b64(['2026-01-15T12:00:00.000Z', randomUUID(), 'extra'])],
        ['an extra key', b64({ c: '2026-01-15 12:00:00+00', i: randomUUID(), x: 1 })],
        ['an id tuple with an extra element', b64([randomUUID(), 'extra'])],
        ['an id tuple of a fraction', b64([0.5])],
        ['over-long', 'A'.repeat(5000)],
      ];
      // A real cursor of this list, then altered: an element or key added, the id replaced.
      const first = await call(route, { url: `${urlOf(route)}?limit=1` });
      expect(first.statusCode, `${route.url}: ${first.body}`).toBe(200);
      const next = (first.json() as { next_cursor: string | null }).next_cursor;
      if (next) {
        real++;
        const key = JSON.parse(Buffer.from(next, 'base64url').toString('utf8')) as unknown;
        if (Array.isArray(key)) {
          forged.push(['a real cursor with an extra element', b64([...key, 'extra'])]);
          forged.push(['a real cursor with an extra null', b64([...key, null])]);
          forged.push(['a real cursor, id not a uuid', b64([...key.slice(0, -1), 'x'])]);
        } else {
          forged.push(['a real cursor with an extra key', b64({ ...(key as object), x: 'extra' })]);
          forged.push(['a real cursor with an id of another type', b64({ ...(key as object), i: 7 })]);
        }
        forged.push(['a real cursor, re-encoded with padding', `${next}==`]);
      }
      for (const [label, cursor] of forged) {
        cases.push([`${route.url} cursor: ${label}`, () => call(route, { url: `${urlOf(route)}?cursor=${encodeURIComponent(cursor)}` })]);
      }
    }
    // Every list but webhook deliveries (no delivery was made) handed out a real cursor to forge from.
    expect(real).toBeGreaterThanOrEqual(lists.length - 1);
    await allRefused(cases);
  });

  it("search strings: LIKE's characters are literal; NUL and 10k characters are refused", async () => {
    const search = (q: string) => ctx.app.inject({ url: `/admin/users?search=${encodeURIComponent(q)}`, headers: w.platform.headers });
    const before = await rows();
    for (const q of ['%', '_', '\\', '%_\\', '%%', 'user-%', '_ser']) {
      const res = await search(q);
      expect(res.statusCode, `${q}: ${res.body}`).toBe(200);
      // No email or name starts with these characters: a wildcard would match every user.
      expect((res.json() as { users: unknown[] }).users, q).toEqual([]);
    }
    expectRefusal(await search('a\u0000b'), 'NUL');
    expectRefusal(await search('x'.repeat(10_000)), '10k');
    expect(await rows()).toEqual(before);
  });

  it('bodies: wrong top-level types, bad JSON, wrong content type, oversized, unknown fields, wrong field types', async () => {
    const cases: [string, () => Promise<LightMyRequestResponse>][] = [];
    const json = { 'content-type': 'application/json' };
    for (const route of adminRoutes().filter(hasBody)) {
      const name = `${route.method} ${route.url}`;
      for (const [label, raw] of [
        ['an array', '[]'],
        ['a string', '"x"'],
        ['a number', '1'],
        ['null', 'null'],
        ['true', 'true'],
        ['not JSON', '{"name":'],
        ['empty', ''],
        ['__proto__', '{"__proto__":{"admin":true}}'],
        ['constructor.prototype', '{"constructor":{"prototype":{"admin":true}}}'],
        ['oversized (64 KB)', JSON.stringify({ ...validBody(route), pad: 'x'.repeat(64 * 1024) })],
      ] as const) {
        cases.push([`${name} body ${label}`, () => call(route, { payload: raw, headers: json })]);
      }
      cases.push([
        `${name} as text/plain`,
        () => call(route, { payload: JSON.stringify(validBody(route)), headers: { 'content-type': 'text/plain' } }),
      ]);
      cases.push([
        `${name} as a form`,
        () => call(route, { payload: 'a=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
      ]);
      cases.push([
        `${name} unknown field`,
        async () => {
          const res = await call(route, { payload: { ...validBody(route), zzz_unknown: 1 } });
          expect(res.body, `${name} names the unknown field`).toContain('zzz_unknown');
          return res;
        },
      ]);
      for (const field of shapeKeys(route.schema?.body)) {
        for (const [label, value] of [
          ['an object', { $ne: null }],
          ['an array of objects', [{}]],
          ['10k characters', 'x'.repeat(10_000)],
          ['-1.5', -1.5],
          ['a NUL string', 'a\u0000b'],
        ] as const) {
          cases.push([
            `${name} ${field}=${label}`,
            async () => {
              const res = await call(route, { payload: { ...validBody(route), [field]: value } });
              expect(res.body, `${name} ${field}=${label} names the field`).toContain(field);
              return res;
            },
          ]);
        }
      }
    }
    expect(cases.length).toBeGreaterThan(100);
    await allRefused(cases);
  });

  it('fast-check bodies on every POST/PUT/PATCH route: never a 500, a refusal is {detail} and writes nothing', async () => {
    const routes = adminRoutes().filter(hasBody);
    for (const route of routes) {
      const keys = [...shapeKeys(route.schema?.body), 'zzz', '__proto__', 'constructor', 'config'];
      const body = fc.oneof(
        fc.dictionary(fc.constantFrom(...keys), fc.anything({ maxDepth: 2 }), { maxKeys: 6 }),
        fc.record(
          Object.fromEntries(Object.entries(validBody(route)).map(([k, v]) => [k, fc.oneof(fc.constant(v), fc.anything({ maxDepth: 2 }))])),
        ),
        fc.anything({ maxDepth: 2 }),
      );
      await fc.assert(
        fc.asyncProperty(body, async (payload) => {
          const before = await rows();
          const res = await call(route, { payload: JSON.stringify(payload) ?? 'null', headers: { 'content-type': 'application/json' } });
          expect(res.statusCode, `${route.method} ${route.url}: ${res.body.slice(0, 300)}`).toBeLessThan(500);
          if (res.statusCode >= 400) {
            expectRefusal(res, `${route.method} ${route.url}`);
            expect(await rows()).toEqual(before);
          }
        }),
        { numRuns: 25 },
      );
    }
  });
});

// --- The review's findings, each refused now (each test failed before its fix) ----------------------

const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
  Buffer.from('IHDR'),
  Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89]),
  Buffer.from([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]),
]);

interface Part {
  name: string;
  filename?: string;
  type?: string;
  data: Buffer | string;
}
function multipart(parts: Part[]): { body: Buffer; type: string } {
  const boundary = '----km-admin-input';
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const disposition = `form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}`;
    const head = `--${boundary}\r\nContent-Disposition: ${disposition}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ''}\r\n`;
    chunks.push(Buffer.from(head), Buffer.isBuffer(p.data) ? p.data : Buffer.from(p.data), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), type: `multipart/form-data; boundary=${boundary}` };
}
const uploadParts = (appId: string, parts: Part[]) => {
  const { body, type } = multipart(parts);
  return ctx.app.inject({
    method: 'POST',
    url: `/admin/apps/${appId}/logo`,
    headers: { ...w.platform.headers, 'content-type': type },
    payload: body,
  });
};
const logoFile = (data: Buffer, filename = 'logo.png'): Part => ({ name: 'file', filename, type: 'image/png', data });
const logoOf = async (appId: string) =>
  ctx.deps.db.selectFrom('apps').select(['logo_data', 'logo_url']).where('app_id', '=', appId).executeTakeFirstOrThrow();

/** A trigger that makes Postgres refuse some inserts (a real failure in the middle of a use case). */
async function refuseInserts(table: 'memberships' | 'audit_events', when: string): Promise<() => Promise<void>> {
  const { sql } = await import('kysely');
  await sql
    .raw(
      `create or replace function km_test_refuse() returns trigger language plpgsql as $$ begin raise exception 'refused by the test'; end $$`,
    )
    .execute(ctx.deps.db);
  await sql
    .raw(`create trigger km_test_refuse before insert on ${table} for each row when (${when}) execute function km_test_refuse()`)
    .execute(ctx.deps.db);
  return async () => {
    await sql.raw(`drop trigger km_test_refuse on ${table}`).execute(ctx.deps.db);
  };
}

describe('findings of the review', () => {
  it('a: the logo upload refuses a second file, another field or too many parts (400 {detail}); nothing stored', async () => {
    const app = w.b1.appId;
    await allRefused([
      ['two files', () => uploadParts(app, [logoFile(PNG), logoFile(PNG, 'second.png')])],
      ['a file and a second file of another name', () => uploadParts(app, [logoFile(PNG), { ...logoFile(PNG), name: 'other' }])],
      ['a text field, then the file', () => uploadParts(app, [{ name: 'note', data: 'hello' }, logoFile(PNG)])],
      ['the file, then a text field', () => uploadParts(app, [logoFile(PNG), { name: 'note', data: 'hello' }])],
      [
        'ten fields',
        () =>
          uploadParts(
            app,
            Array.from({ length: 10 }, (_, i) => ({ name: `f${i}`, data: 'x' })),
          ),
      ],
      ['no parts', () => uploadParts(app, [])],
    ]);
    expect(await logoOf(app)).toEqual({ logo_data: null, logo_url: null });
    // The one valid shape still works.
    const ok = await uploadParts(app, [logoFile(PNG)]);
    expect(ok.statusCode, ok.body).toBe(200);
  });

  it('a: an oversized multipart body is a 413 {detail} and stores nothing', async () => {
    const app = w.a2.appId;
    const before = await rows();
    const big = await uploadParts(app, [logoFile(Buffer.concat([PNG, Buffer.alloc(3 * 1024 * 1024)]))]);
    expect(big.statusCode).toBe(413);
    expectRefusal(big, 'oversized');
    expect(await rows()).toEqual(before);
  });

  it('a polyglot (a PNG header, then HTML and script) is served as image/png with nosniff and the sandbox CSP', async () => {
    const polyglot = Buffer.concat([PNG, Buffer.from('<html><body><script>alert(document.domain)</script></body></html>')]);
    const res = await uploadParts(w.a2.appId, [logoFile(polyglot, 'logo.html')]);
    expect(res.statusCode, res.body).toBe(200);
    expect((res.json() as { content_type: string }).content_type).toBe('image/png');
    const served = await ctx.app.inject({ url: `/logos/${w.a2.appId}` });
    expect(served.headers['content-type']).toBe('image/png');
    expect(served.headers['x-content-type-options']).toBe('nosniff');
    expect(served.headers['content-security-policy']).toBe(LOGO_CSP);
    expect(LOGO_CSP).toMatch(/sandbox/);
    // An SVG gets the same headers (script inside never runs under the sandbox, nor as a document).
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
    expect((await uploadParts(w.a2.appId, [{ ...logoFile(svg, 'x.svg'), type: 'image/svg+xml' }])).statusCode).toBe(200);
    const servedSvg = await ctx.app.inject({ url: `/logos/${w.a2.appId}` });
    expect(servedSvg.headers['content-type']).toBe('image/svg+xml');
    expect(servedSvg.headers['x-content-type-options']).toBe('nosniff');
    expect(servedSvg.headers['content-security-policy']).toBe(LOGO_CSP);
  });

  it('b: a path parameter longer than maxParamLength, or a URL the router cannot decode, is a 400 {detail} (/admin and /api)', async () => {
    const long = 'a'.repeat(101);
    for (const [method, url] of [
      ['GET', `/admin/apps/${long}`],
      ['DELETE', `/admin/apps/${w.a1.appId}/members/${long}`],
      ['GET', `/admin/apps/%E0%A4%A`],
      ['DELETE', `/api/v1/auth/sessions/${long}`],
      ['DELETE', `/api/v1/auth/sessions/%E0%A4%A`],
    ] as const) {
      const res = await ctx.app.inject({ method, url, headers: w.platform.headers });
      expect(res.statusCode, `${method} ${url}`).toBe(400);
      expectRefusal(res, `${method} ${url.slice(0, 60)}`);
    }
    // An /admin or /api path that is no route: 404 {detail}, like the rest of these APIs.
    for (const url of ['/admin/no-such-thing', '/api/v1/no-such-thing']) {
      const res = await ctx.app.inject({ url, headers: w.platform.headers });
      expect(res.statusCode, url).toBe(404);
      expectRefusal(res, url);
    }
  });

  it('c: the members and invites lists refuse a real cursor with an extra element', async () => {
    for (const list of ['members', 'invites']) {
      const url = `/admin/apps/${w.a1.appId}/${list}`;
      const first = await ctx.app.inject({ url: `${url}?limit=1`, headers: w.platform.headers });
      const next = (first.json() as { next_cursor: string | null }).next_cursor;
      expect(next, list).toBeTruthy();
      const key = JSON.parse(Buffer.from(next!, 'base64url').toString('utf8')) as unknown[];
      expect(key).toHaveLength(2);
      const ok = await ctx.app.inject({ url: `${url}?cursor=${next}`, headers: w.platform.headers });
      expect(ok.statusCode, list).toBe(200);
      const res = await ctx.app.inject({ url: `${url}?cursor=${b64([...key, 'extra'])}`, headers: w.platform.headers });
      expect(res.statusCode, list).toBe(400);
      expect(res.json()).toEqual({ detail: 'Invalid cursor: pass the next_cursor of a previous page' });
    }
  });

  it('d: a users:create service token creates the user, the membership and the audit events in one transaction, or nothing', async () => {
    const svc = await serviceToken(ctx, ['users:create'], { autoAssignRoles: ['user'] });
    const email = `svc-${randomUUID()}@example.com`;
    const before = await rows();
    const undo = await refuseInserts('memberships', `new.app_id = '${svc.app.appId}'`);
    try {
      const res = await ctx.app.inject({ method: 'POST', url: '/admin/users', headers: svc.headers, payload: { email } });
      expect(res.statusCode).toBe(500);
      expect(Object.keys(res.json() as object)).toEqual(['detail']);
    } finally {
      await undo();
    }
    // No user, no membership, no user.created (or user.deleted) event left behind.
    expect(await rows()).toEqual(before);
    const ok = await ctx.app.inject({ method: 'POST', url: '/admin/users', headers: svc.headers, payload: { email } });
    expect(ok.statusCode, ok.body).toBe(201);
    const id = (ok.json() as { id: string }).id;
    const m = await ctx.deps.db.selectFrom('memberships').selectAll().where('user_id', '=', id).execute();
    expect(m.map((r) => [r.app_id, r.roles])).toEqual([[svc.app.appId, ['user']]]);
  });

  it('e: creating, updating, re-keying and deleting an app each write the change and its audit event together, or nothing', async () => {
    const target = w.a2;
    const h = w.platform.headers;
    const before = await rows();
    const undo = await refuseInserts('audit_events', `new.event like 'app.%'`);
    try {
      for (const [label, send] of [
        [
          'create',
          () =>
            ctx.app.inject({
              method: 'POST',
              url: '/admin/apps',
              headers: h,
              payload: { name: 'Half', config: { redirect_uris: ['https://half.example.com/cb'] } },
            }),
        ],
        [
          'update',
          () => ctx.app.inject({ method: 'PUT', url: `/admin/apps/${target.appId}`, headers: h, payload: { name: 'Half-renamed' } }),
        ],
        ['rotate', () => ctx.app.inject({ method: 'POST', url: `/admin/apps/${target.appId}/regenerate-secret`, headers: h })],
        ['delete', () => ctx.app.inject({ method: 'DELETE', url: `/admin/apps/${target.appId}`, headers: h })],
      ] as const) {
        const res = await send();
        expect(res.statusCode, `${label}: ${res.body}`).toBe(500);
        expect(await rows(), label).toEqual(before);
      }
    } finally {
      await undo();
    }
    // And the app answers as before: same name, still there.
    const shown = await ctx.app.inject({ url: `/admin/apps/${target.appId}`, headers: h });
    expect((shown.json() as { name: string }).name).toBe(target.name);
  });

  it('f: a wildcard redirect or logout URI is refused with a 400 {detail} naming the field; nothing written', async () => {
    const h = w.platform.headers;
    const create = (config: Record<string, unknown>) =>
      ctx.app.inject({ method: 'POST', url: '/admin/apps', headers: h, payload: { name: 'Wild', config } });
    const update = (config: Record<string, unknown>) =>
      ctx.app.inject({ method: 'PUT', url: `/admin/apps/${w.a1.appId}`, headers: h, payload: { config } });
    const cases: [string, string, () => Promise<LightMyRequestResponse>][] = [
      ['config.redirect_uris', 'create, host wildcard', () => create({ redirect_uris: ['https://*.example.com/cb'] })],
      ['config.redirect_uris', 'create, path wildcard', () => create({ redirect_uris: ['https://app.example.com/*'] })],
      [
        'config.post_logout_redirect_uris',
        'create, logout wildcard',
        () => create({ redirect_uris: ['https://app.example.com/cb'], post_logout_redirect_uris: ['https://*.example.com/'] }),
      ],
      ['config.redirect_uris', 'update', () => update({ redirect_uris: ['https://app.example.com/cb', 'https://*.example.com/cb'] })],
      ['config.post_logout_redirect_uris', 'update, logout', () => update({ post_logout_redirect_uris: ['https://*/'] })],
    ];
    await allRefused(
      cases.map(([field, label, send]) => [
        label,
        async () => {
          const res = await send();
          expect(res.statusCode, label).toBe(400);
          expect((res.json() as { detail: string }).detail, label).toMatch(
            new RegExp(`${field.replace('.', '\\.')}\\.\\d+: must be an exact URI: a wildcard`),
          );
          return res;
        },
      ]),
    );
  });
});

describe('no admin secret reaches the logs (trace level)', () => {
  it('client secrets, invite codes, refresh keys, webhook secrets, the setup token and the Admin JWT are never logged', async () => {
    // With SMTP configured (production): without it, the outbox logs each email on purpose (SECURITY.md).
    const smtp = await startSmtpCapture();
    const lc = await createTestContext({ env: { LOG_LEVEL: 'trace', KEYMASTER_RATE_LIMIT_SCALE: '100000', SMTP_URL: smtp.url } });
    try {
      const secrets = new Map<string, string>();
      const keep = (name: string, value: string | null | undefined) => {
        expect(value, name).toBeTruthy();
        secrets.set(name, value!);
      };
      // The first administrator, through the setup link (GET shows the form, POST carries the token).
      const { url } = (await issueSetupLink(lc.deps))!;
      const setupToken = new URL(url).searchParams.get('token');
      keep('setup token', setupToken);
      const page = await lc.app.inject({ url: `/setup?token=${setupToken}` });
      expect(page.statusCode).toBe(200);
      const email = `first-${randomUUID()}@example.com`;
      const done = await lc.app.inject({
        method: 'POST',
        url: '/setup',
        headers: { ...FORM, cookie: cookieHeader(cookiesOf(page)) },
        payload: form({
          _csrf: csrfTokenOf(page.body),
          token: setupToken!,
          email,
          name: 'First',
          password: DEFAULT_PASSWORD,
          confirm_password: DEFAULT_PASSWORD,
        }),
      });
      expect(done.statusCode, done.body).toBe(200);
      const jwt = await consoleToken(lc, email, DEFAULT_PASSWORD);
      keep('Admin JWT', jwt);
      const h = { authorization: `Bearer ${jwt}` };
      const post = async (path: string, payload?: object) => {
        const res = await lc.app.inject({ method: 'POST', url: `/admin${path}`, headers: h, ...(payload && { payload }) });
        expect(res.statusCode, `${path}: ${res.body}`).toBeLessThan(300);
        return res.json() as Record<string, string>;
      };
      const created = await post('/apps', { name: 'Logged', config: { redirect_uris: ['https://logged.example.com/cb'] } });
      keep('client secret', created.client_secret);
      keep('rotated client secret', (await post(`/apps/${created.id}/regenerate-secret`)).client_secret);
      const invitee = `invitee-${randomUUID()}@example.com`;
      const invite = await post('/invites', { app_id: created.id, email: invitee });
      const code = new URL(invite.invite_url!).searchParams.get('code');
      keep('invite code', code);
      // The email went out with the link (so it went through the mailer, and its log lines are checked too).
      expect(linkIn(await smtp.next(invitee), '/invite').searchParams.get('code')).toBe(code);
      const hook = await post(`/apps/${created.id}/webhooks`, { url: 'https://hooks.example.com/logged', events: ['user.signup'] });
      keep('webhook secret', hook.secret);
      // A refresh key is the admin's own credential for an app they are a member of.
      const admin = await lc.deps.db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirstOrThrow();
      await enrol(lc, admin.id, created.id!, []);
      const key = await post(`/apps/${created.id}/refresh-keys`, { audience: created.id, lifetime: 3600 });
      keep('refresh key', key.refresh_token);
      // Refused requests that carry secrets in the body are logged without them too.
      const bad = await lc.app.inject({
        method: 'POST',
        url: '/admin/users',
        headers: h,
        payload: { email: 'x', password: 'Secret-In-A-Bad-Body-1!' },
      });
      expect(bad.statusCode).toBe(400);
      keep('password of a refused body', 'Secret-In-A-Bad-Body-1!');
      const text = lc.logText();
      expect(text.length).toBeGreaterThan(1000);
      for (const [name, value] of secrets) {
        const line = text.split('\n').find((l) => l.includes(value));
        expect(line, `${name} is in the log`).toBeUndefined();
        expect(text.includes(encodeURIComponent(value)), `${name} (URL-encoded) is in the log`).toBe(false);
      }
    } finally {
      await lc.close();
      await smtp.close();
    }
  });
});
