// GET /admin/openapi.json (issue 14): OpenAPI 3.1 generated from the route schemas, with the bearer
// scheme, and every /admin route of the route table in it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/app.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext();
});
afterAll(() => ctx.close());

interface Doc {
  openapi: string;
  paths: Record<string, Record<string, { security?: unknown[]; responses?: Record<string, unknown> }>>;
  components: { securitySchemes: Record<string, unknown> };
}

describe('GET /admin/openapi.json', () => {
  it('is OpenAPI 3.1 with the bearer scheme, public, and lists every /admin route of the route table', async () => {
    const res = await ctx.app.inject({ url: '/admin/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json() as Doc;
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });

    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)),
    );
    const routes = ctx.app.routeTable
      .filter((r) => r.url.startsWith('/admin/') && r.method !== 'HEAD')
      .map((r) => `${r.method} ${r.url.replace(/:([A-Za-z_]+)/g, '{$1}')}`);
    expect(routes.length).toBeGreaterThan(10);
    const missing = routes.filter((r) => !documented.has(r));
    expect(missing).toEqual([]);
    expect(documented.size).toBe(new Set(routes).size);
    console.log(`OpenAPI: ${documented.size} operations; route table: ${new Set(routes).size} /admin routes`);

    // Every route but the document itself asks for the bearer token.
    const open = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([, op]) => !op.security)
        .map(([m]) => `${m} ${path}`),
    );
    expect(open).toEqual(['get /admin/openapi.json']);
    // Bodies and params come from the zod schemas.
    expect(JSON.stringify(doc.paths['/admin/apps']!.post)).toContain('redirect_uris');
  });
});
