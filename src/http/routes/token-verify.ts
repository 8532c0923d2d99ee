// POST /token/verify {token, audience} (KEYMASTER-API.md §5, a debugging aid): {valid:true, claims}
// for a live user access token, else {valid:false, error}. Always 200: the answer is the body.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../../deps.js';
import { JSON_BODY_LIMIT, rateLimit } from '../plugins/guards.js';
import { RULES } from '../../domain/rate-limits/rate-limits.js';
import { verifyAccessToken } from '../../domain/tokens/access-tokens.js';
import { AppError } from '../../errors.js';
import { VerifyBody } from '../schemas/oidc.js';

const VerifyResponse = z.union([
  z.object({
    valid: z.literal(true),
    // An OAuth grant's token carries email and roles only when its scope granted them (claims.ts).
    claims: z.object({
      sub: z.string(),
      email: z.string().optional(),
      roles: z.array(z.string()).optional(),
      aud: z.string(),
      iss: z.string(),
      exp: z.number(),
    }),
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
        const c = await verifyAccessToken(deps, req.body.token, req.body.audience !== undefined ? { audience: req.body.audience } : {});
        const claims = { sub: c.sub, ...(c.email !== undefined && { email: c.email }), ...(c.roles && { roles: c.roles }) };
        return { valid: true as const, claims: { ...claims, aud: c.aud, iss: c.iss, exp: c.exp } };
      } catch (err) {
        if (err instanceof AppError && err.code === 'invalid_token') return { valid: false as const, error: err.description };
        throw err;
      }
    },
  );
};
export default tokenVerifyRoutes;
