// Liveness (the process answers) and readiness (the database answers).
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { sql } from 'kysely';
import type { Deps } from '../../deps.js';
import { appError } from '../../errors.js';

const healthRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async () => {
    try {
      await sql`select 1`.execute(deps.db);
    } catch (err) {
      throw appError('database_unreachable', { detail: (err as Error).message });
    }
    return { status: 'ok' };
  });
};
export default healthRoutes;
