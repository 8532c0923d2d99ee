import type { FastifyInstance } from 'fastify';
// A route's hooks option as a list: Fastify takes one function, an array of them, or nothing.
export function hookList<T>(hooks: T | T[] | undefined): T[] {
  return hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks];
}

/** One route as registered: what the property test (test/security/fuzz-routes.test.ts) walks. */
export interface RouteEntry {
  readonly method: string;
  readonly url: string;
  readonly schema: Readonly<Record<string, unknown>> | undefined;
  readonly config: Readonly<Record<string, unknown>> | undefined;
  /** The route runs CSRF / same-origin checks before validation (formGuard). */
  readonly guarded: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route this app serves, in registration order (HEAD routes Fastify adds included). */
    routeTable: readonly RouteEntry[];
  }
}

/** Records the route table as routes register (call before any route). */
export function recordRouteTable(app: FastifyInstance): void {
  const table: RouteEntry[] = [];
  app.decorate('routeTable', table);
  app.addHook('onRoute', (route) => {
    for (const method of hookList(route.method)) {
      table.push({
        method,
        url: route.url,
        schema: route.schema as Record<string, unknown> | undefined,
        config: route.config as Record<string, unknown> | undefined,
        guarded: hookList(route.preValidation).length > 0,
      });
    }
  });
}
