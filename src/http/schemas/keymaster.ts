// zod schemas of the Keymaster API (seed 000, KEYMASTER-API.md).
import { z } from 'zod';

/** Postgres text cannot hold NUL (it is a 500 from the driver), and no value of ours contains one. */
export const NO_NUL = [(v: string) => !v.includes('\u0000'), 'must not contain NUL characters'] as const;

/** Opaque values we issued are 64 hex chars; anything much longer is not ours (and not worth hashing). */
export const OpaqueToken = z
  .string()
  .min(1, 'is required')
  .max(512, 'is too long')
  .refine(...NO_NUL);
export const AppId = z
  .string()
  .min(1, 'is required')
  .max(100, 'is too long')
  .refine(...NO_NUL);
export const Uri = z
  .string()
  .min(1)
  .max(2000, 'is too long')
  .refine(...NO_NUL);
export const State = z.string().max(1000, 'is too long');

export const RefreshBody = z.object({ refresh_token: OpaqueToken, app_id: AppId });
export const RevokeBody = z.object({ refresh_token: OpaqueToken, app_id: AppId.optional() });

export const TokenResponse = z.object({
  access_token: z.string(),
  refresh_token: z.string(),
  token_type: z.literal('Bearer'),
  expires_in: z.number().int(),
});
export const StatusOk = z.object({ status: z.literal('ok') });
