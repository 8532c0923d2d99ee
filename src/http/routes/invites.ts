// Accepting an invite (issue 14): POST /auth/accept-invite (Keymaster's shape) and the same at
// /api/v1/auth/accept-invite, answered like a login (tokens and the user, or totp_required). The
// hosted page the invite email links to is GET/POST /invite.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../../deps.js';
import { acceptInviteAndSignIn } from '../../domain/invites/accept.js';
import { bearerToken } from '../bearer.js';
import { verifyLiveAccessToken } from '../../domain/tokens/liveness.js';
import { JSON_BODY_LIMIT } from '../plugins/guards.js';
import { requestMeta } from '../request-meta.js';
import { AppId } from '../schemas/keymaster.js';
import { LoginResponse } from '../schemas/accounts.js';
import { accountTokensJson } from '../token-responses.js';
import { accountUserJson } from './account-api.js';

export const AcceptInviteBody = z.object({
  app_id: AppId,
  invite_code: z.string().trim().min(1, 'is required').max(200, 'is too long'),
  email: z.string().trim().min(1, 'is required').max(254, 'is too long'),
  display_name: z.string().trim().min(1, 'must not be empty').max(200, 'is too long').optional(),
  password: z.string().min(1, 'is required').max(1024, 'is too long').optional(),
});

const inviteRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  const config = { errorFormat: 'detail' as const, accepts: 'json' as const };
  for (const url of ['/auth/accept-invite', '/api/v1/auth/accept-invite']) {
    app.post(
      url,
      { config, bodyLimit: JSON_BODY_LIMIT, schema: { body: AcceptInviteBody, response: { 200: LoginResponse } } },
      async (req, reply) => {
        reply.header('Cache-Control', 'no-store');
        const b = req.body;
        // Being signed in (a live access token) proves an existing account as its password would.
        const token = bearerToken(req);
        const signedInUserId = token ? (await verifyLiveAccessToken(deps, token)).sub : undefined;
        const outcome = await acceptInviteAndSignIn(
          deps,
          { appId: b.app_id, code: b.invite_code, email: b.email, name: b.display_name, password: b.password, signedInUserId },
          requestMeta(req),
        );
        if (outcome.kind === 'totp_required') return { status: 'totp_required' as const, totp_session: outcome.totpSession };
        return { ...accountTokensJson(outcome.tokens), user: accountUserJson(outcome.user) };
      },
    );
  }
};
export default inviteRoutes;
