// Admin API: GET /admin/me, who the caller is and which admin tiers it holds (read fresh, like every
// admin request). The Console builds its navigation and each screen's actions from it.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../../deps.js';
import { assertAdmin } from '../../domain/admin/authorization.js';
import { getUser } from '../../domain/users/users.js';
import { actorOf } from './auth.js';
import { ErrorJson } from './schemas.js';

export const MeJson = z
  .object({
    user_id: z.string(),
    email: z.string(),
    display_name: z.string().nullable(),
    platform_admin: z.boolean(),
    /** Tenants the caller is tenant admin of. */
    tenant_ids: z.array(z.string()),
    /** Apps the caller is app admin of. */
    admin_app_ids: z.array(z.string()),
    /** Apps the caller is manager of (invite and revoke only). */
    manager_app_ids: z.array(z.string()),
  })
  .meta({ id: 'Me' });

const adminMeRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  app.get(
    '/me',
    {
      schema: {
        tags: ['meta'],
        summary: 'The calling admin and the tiers it holds',
        response: { 200: MeJson, 401: ErrorJson, 403: ErrorJson },
      },
    },
    async (req) => {
      const actor = actorOf(req);
      assertAdmin(actor);
      const user = await getUser(deps, actor.userId);
      return {
        user_id: user.id,
        email: user.email,
        display_name: user.name,
        platform_admin: actor.platform,
        tenant_ids: actor.tenantIds,
        admin_app_ids: actor.adminAppIds,
        manager_app_ids: actor.managerAppIds,
      };
    },
  );
};
export default adminMeRoutes;
