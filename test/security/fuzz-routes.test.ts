// DESIGN.md §4.10, for every route the app serves: no input of any field answers 500. The routes and
// their fields come from the app's own route table (app.routeTable: method, URL, zod schemas), so a
// route added later is covered without touching this file. Each field of each route gets a fixed
// table of hostile values (NUL, invalid UTF-8 on the wire, over-long strings, wrong JSON types,
// injection strings), then fast-check sends random strings and JSON values to random fields.
// The other fields carry plausible values (a real app, a signed-in user, a CSRF token), so that a
// hostile value gets as deep as it can: past validation, into the domain and the database.
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RouteEntry } from '../../src/http/plugins/route-hooks.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { DEFAULT_LOGOUT, DEFAULT_REDIRECT, makeApp, makeUser } from '../helpers/factories.js';
import { cookieHeader } from '../helpers/http.js';
import { openLoginPage } from '../helpers/security.js';

/** A value as it goes on the wire: a JS value (JSON-encoded or stringified), or raw bytes. */
type Evil = { label: string; value: unknown } | { label: string; raw: string };

const STRINGS: [string, string][] = [
  ['empty', ''],
  ['NUL', '\u0000'],
  ['NUL inside', 'a\u0000b@example.com'],
  ['lone surrogate', '\uD800'],
  ['over-long (20k)', 'x'.repeat(20_000)],
  ['over-long email', `${'a'.repeat(300)}@example.com`],
  ['CRLF header injection', 'x\r\nSet-Cookie: evil=1'],
  ['SQL injection', "' OR '1'='1' --"],
  ['HTML injection', '"><script>alert(1)</script>'],
  ['template injection', '${7*7}{{7*7}}<%= 7*7 %>'],
  ['bidi and zero-width', '\u202Egnp.exe\u200B\uFEFF'],
  ['not an email', 'not-an-email'],
  ['foreign URL', 'https://evil.example/callback'],
  ['__proto__', '__proto__'],
];
const EVIL_STRINGS: Evil[] = STRINGS.map(([label, value]) => ({ label, value }));
/** Bytes that are not UTF-8 (percent-encoded in forms and URLs, raw in JSON). */
const EVIL_BYTES: Evil[] = [
  { label: 'invalid UTF-8 (0xFF)', raw: '\xff' },
  { label: 'overlong UTF-8 slash', raw: '\xc0\xaf' },
  { label: 'UTF-8 surrogate', raw: '\xed\xa0\x80' },
];
const EVIL_JSON: Evil[] = (
  [
    ['null', null],
    ['number', 12345],
    ['array', ['a', 'b']],
    ['object', { $ne: null }],
    ['nested', { a: [{ b: '\u0000' }] }],
  ] as const
).map(([label, value]) => ({ label, value }));

/** A form field sent twice (an array after parsing), the form's "wrong type". */
const REPEATED: Evil = { label: 'repeated field', value: ['a', 'b'] };

interface Target {
  route: RouteEntry;
  /** Where the fields go: a JSON body, a form body, the query string; `params` for path parameters. */
  where: 'json' | 'form' | 'query' | 'params';
  field: string;
  fields: string[];
}

interface Fixtures {
  appId: string;
  clientSecret: string;
  csrf: string;
  cookies: Record<string, string>;
  accessToken: string;
}

let ctx: TestContext;
let fx: Fixtures;
let seq = 0;

beforeAll(async () => {
  ctx = await createTestContext({ env: { KEYMASTER_RATE_LIMIT_SCALE: '100000', LOG_LEVEL: 'warn' } });
  const { app, clientSecret } = await makeApp(ctx.deps, {
    redirectUris: [DEFAULT_REDIRECT],
    grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
    allowedScopes: ['push:send'],
  });
  const { user, password } = await makeUser(ctx.deps);
  const login = await ctx.app.inject({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { email: user.email, password, app_id: app.appId },
  });
  const page = await openLoginPage(ctx, app.appId);
  fx = { appId: app.appId, clientSecret, csrf: page.csrf, cookies: page.cookies, accessToken: login.json().access_token };
});
afterAll(() => ctx.close());

/** Plausible values for the other fields, by name (a field without one is left out unless targeted). */
function baseValue(field: string): string | undefined {
  const base: Record<string, string> = {
    app_id: fx.appId,
    client_id: fx.appId,
    audience: fx.appId,
    redirect_uri: DEFAULT_REDIRECT,
    post_logout_redirect_uri: DEFAULT_LOGOUT,
    email: `fuzz-${++seq}-${randomUUID().slice(0, 8)}@example.com`,
    password: 'Str0ng-Passw0rd!',
    name: 'Fuzz User',
    _csrf: fx.csrf,
    response_type: 'code',
    scope: 'openid',
    state: 's',
    nonce: 'n',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
    grant_type: 'client_credentials',
    client_secret: fx.clientSecret,
    token: 'f'.repeat(43),
    refresh_token: 'f'.repeat(64),
    file: `${fx.appId}.css`,
    id: randomUUID(),
  };
  return base[field];
}

/** The keys of a zod object schema (unwrapping optional / pipe / default), or [] if it has none. */
function shapeKeys(schema: unknown): string[] {
  let s = schema as { shape?: Record<string, unknown>; _zod?: { def?: { in?: unknown; innerType?: unknown } } } | undefined;
  for (let i = 0; s && i < 5; i++) {
    if (s.shape) return Object.keys(s.shape);
    s = (s._zod?.def?.in ?? s._zod?.def?.innerType) as typeof s;
  }
  return [];
}

function targetsOf(routes: readonly RouteEntry[]): Target[] {
  const out: Target[] = [];
  for (const route of routes) {
    if (route.method === 'HEAD') continue; // the GET route's twin
    const schema = route.schema ?? {};
    const bodyKind = (route.config?.accepts as 'json' | 'form' | undefined) ?? (route.url.startsWith('/api/') ? 'json' : 'form');
    const groups: [Target['where'], string[]][] = [
      ['params', shapeKeys(schema.params)],
      ['query', shapeKeys(schema.querystring)],
      ...(route.method === 'GET' || route.method === 'DELETE'
        ? []
        : ([[bodyKind, shapeKeys(schema.body)]] as [Target['where'], string[]][])),
    ];
    // A route with no declared field still gets one undeclared field in its body or query.
    if (groups.every(([, f]) => f.length === 0)) groups.push([route.method === 'GET' ? 'query' : bodyKind, ['x']]);
    for (const [where, fields] of groups) for (const field of fields) out.push({ route, where, field, fields });
  }
  return out;
}

const toText = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));
/** Percent-encodes a string as UTF-8 (lone surrogates as their 3 bytes: invalid UTF-8 on the wire). */
function pct(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0xd800 && cp <= 0xdfff)
      out += '%ED%' + (0xa0 | ((cp >> 6) & 0x1f)).toString(16).toUpperCase() + '%' + (0x80 | (cp & 0x3f)).toString(16).toUpperCase();
    else out += encodeURIComponent(ch);
  }
  return out;
}
const pctBytes = (raw: string) => [...raw].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`).join('');

function encodePairs(pairs: [string, Evil | string][]): string {
  return pairs
    .flatMap(([k, v]) => {
      if (typeof v === 'string') return [`${pct(k)}=${pct(v)}`];
      if ('raw' in v) return [`${pct(k)}=${pctBytes(v.raw)}`];
      if (Array.isArray(v.value)) return v.value.map((x) => `${pct(k)}=${pct(toText(x))}`);
      return [`${pct(k)}=${pct(toText(v.value))}`];
    })
    .join('&');
}

function buildRequest(t: Target, evil: Evil): InjectOptions {
  const others = t.fields
    .filter((f) => f !== t.field)
    .flatMap((f): [string, string][] => {
      const v = baseValue(f);
      return v === undefined ? [] : [[f, v]];
    });
  const headers: Record<string, string> = { authorization: `Bearer ${fx.accessToken}`, cookie: cookieHeader(fx.cookies) };
  let url = t.route.url;
  // Path parameters: the targeted one takes the value, the others their base value.
  url = url.replace(/:(\w+)/g, (_m, name: string) => {
    if (t.where === 'params' && name === t.field) return 'raw' in evil ? pctBytes(evil.raw) : pct(toText(evil.value));
    return pct(baseValue(name) ?? 'x');
  });
  const req: InjectOptions = { method: t.route.method as InjectOptions['method'], url, headers };
  if (t.where === 'query') req.url = `${url}?${encodePairs([...others, [t.field, evil]])}`;
  if (t.where === 'form') {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    req.payload = encodePairs([...others, [t.field, evil]]);
  }
  if (t.where === 'json') {
    headers['content-type'] = 'application/json';
    const obj = Object.fromEntries(others);
    if ('raw' in evil) {
      // Raw bytes inside a JSON string: the body is not valid UTF-8.
      const text = JSON.stringify({ ...obj, [t.field]: '@@RAW@@' });
      const [head, tail] = text.split('"@@RAW@@"') as [string, string];
      req.payload = Buffer.concat([Buffer.from(`${head}"`), Buffer.from(evil.raw, 'latin1'), Buffer.from(`"${tail}`)]);
    } else {
      req.payload = JSON.stringify({ ...obj, [t.field]: evil.value });
    }
  }
  return req;
}

const describeValue = (e: Evil) => e.label;

async function send(t: Target, evil: Evil): Promise<string | undefined> {
  const res = await ctx.app.inject(buildRequest(t, evil));
  if (res.statusCode < 500) return undefined;
  return `${t.route.method} ${t.route.url} ${t.where}.${t.field} = ${describeValue(evil)} → ${res.statusCode}`;
}

describe('no input of any field of any route answers 500', () => {
  it('the route table is walked: every route, every declared field', () => {
    const targets = targetsOf(ctx.app.routeTable);
    const routes = new Set(targets.map((t) => `${t.route.method} ${t.route.url}`));
    // Spot checks that the walk reaches bodies, forms, queries and path parameters.
    for (const key of [
      'POST /api/v1/auth/register',
      'POST /account/register',
      'PATCH /api/v1/auth/me',
      'GET /authorize',
      'DELETE /api/v1/auth/sessions/:id',
      'POST /token',
    ])
      expect(routes, key).toContain(key);
    expect(targets.find((t) => t.route.url === '/account/register' && t.route.method === 'POST' && t.field === 'name')?.where).toBe('form');
    expect(targets.find((t) => t.route.url === '/api/v1/auth/sessions/:id')?.where).toBe('params');
    expect(targets.length).toBeGreaterThan(100);
  });

  it('a fixed table of hostile values in every field', async () => {
    const failures: string[] = [];
    for (const t of targetsOf(ctx.app.routeTable)) {
      const values = [
        ...EVIL_STRINGS,
        ...EVIL_BYTES,
        ...(t.where === 'json' ? EVIL_JSON : t.where === 'form' || t.where === 'query' ? [REPEATED] : []),
      ];
      for (const evil of values) {
        const failure = await send(t, evil);
        if (failure) failures.push(failure);
      }
    }
    expect(failures).toEqual([]);
  }, 240_000);

  it('fast-check: random strings and JSON values in random fields', async () => {
    const targets = targetsOf(ctx.app.routeTable);
    const text = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      fc.string({
        unit: fc.constantFrom('\u0000', '\r', '\n', "'", '"', '<', '%', '\\', '\uD800', '\uDFFF', '@', '/', '.'),
        maxLength: 20,
      }),
    );
    const evil: fc.Arbitrary<Evil> = fc.oneof(
      text.map((value) => ({ label: `string ${JSON.stringify(value)}`, value })),
      fc.jsonValue({ maxDepth: 2 }).map((value) => ({ label: `JSON ${JSON.stringify(value)}`, value })),
    );
    // Targets by name, so that a counterexample reads as the route and field it hit.
    const byName = new Map(targets.map((t) => [`${t.route.method} ${t.route.url} ${t.where}.${t.field}`, t]));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...byName.keys()), evil, async (name, e) => {
        const t = byName.get(name)!;
        // JSON values other than strings go in JSON bodies only (a form or a URL carries text).
        const value = t.where === 'json' || !('value' in e) || typeof e.value === 'string' ? e : { label: e.label, value: toText(e.value) };
        const failure = await send(t, value);
        if (failure) throw new Error(failure);
      }),
      { numRuns: 300 },
    );
  }, 240_000);
});
