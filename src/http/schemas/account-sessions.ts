// zod schemas of the user's own sessions (account API, {detail} errors).
import { z } from 'zod';

export const SessionParams = z.object({ id: z.string().min(1).max(100, 'is too long') });

export const SessionItem = z.object({
  id: z.string(),
  app_id: z.string(),
  app_name: z.string(),
  created_at: z.string(),
  last_used_at: z.string().nullable(),
  expires_at: z.string(),
  user_agent: z.string().nullable(),
  ip: z.string().nullable(),
});
export const SessionList = z.object({ sessions: z.array(SessionItem), next_cursor: z.string().nullable() });
export const SessionListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).optional(),
  cursor: z.string().max(100).optional(),
});
export const SignedOutEverywhere = z.object({
  status: z.literal('ok'),
  revoked_tokens: z.number().int(),
  ended_sso_sessions: z.number().int(),
});
