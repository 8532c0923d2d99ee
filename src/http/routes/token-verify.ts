// POST /token/verify {token, audience} (KEYMASTER-API.md §5, a debugging aid): {valid:true, claims}
// for a live user access token, else {valid:false, error}. Always 200: the answer is the body.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../../deps.js';
import { JSON_BODY_LIMIT, rateLimit } from '../plugins/guards.js';
import { RULES } from '../../domain/rate-limits/rate-limits.js';
import { verifyLiveAccessToken } from '../../domain/tokens/liveness.js';
import { AppError } from '../../errors.js';
import { VerifyBody } from '../schemas/oidc.js';

const VerifyResponse = z.union([
  z.object({
    valid: z.literal(true),
    claims: z.object({ sub: z.string(), email: z.string(), roles: z.array(z.string()), aud: z.string(), iss: z.string(), exp: z.number() }),
  }),
  z.object({ valid: z.literal(false), error: z.string() }),
]);

const tokenVerifyRoutes: FastifyPluginAsyncZod<{ deps: Deps }> = async (app, { deps }) => {
  app.post(
    '/token/verify',
    {
      schema: { body: VerifyBody, response: { 200: VerifyResponse } },
      config: { accepts: 'json' },
      bodyLimit: JSON_BODY_LIMIT,
      preHandler: rateLimit(deps, RULES.tokenVerifyPerIp),
    },
    async (req, reply) => {
      reply.header('Cache-Control', 'no-store');
      try {
        const c = await verifyLiveAccessToken(deps, req.body.token, req.body.audience !== undefined ? { audience: req.body.audience } : {});
        return { valid: true as const, claims: { sub: c.sub, email: c.email, roles: c.roles, aud: c.aud, iss: c.iss, exp: c.exp } };
      } catch (err) {
        if (err instanceof AppError && err.code === 'invalid_token') return { valid: false as const, error: err.description };
        throw err;
      }
    },
  );
};
export default tokenVerifyRoutes;
