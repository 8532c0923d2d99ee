// zod schemas of the Device Authorization Grant (RFC 8628): the device's request and answer (§3.1-3.2)
// and the /device page's forms. Unknown parameters are ignored (RFC 6749 §3.1).
import { z } from 'zod';
import { MAX_PASSWORD_BYTES } from '../../domain/users/passwords.js';

const Param = (max = 2000) => z.string().max(max, 'is too long');

export const DeviceAuthorizationBody = z.looseObject({
  client_id: Param(100).optional(),
  client_secret: Param(512).optional(),
  scope: Param(1000).optional(),
  // RFC 8707: checked against the app's registered resources by the domain (invalid_target).
  resource: Param().optional(),
});

export const DeviceAuthorizationResponse = z.object({
  device_code: z.string(),
  user_code: z.string(),
  verification_uri: z.string(),
  verification_uri_complete: z.string(),
  expires_in: z.number().int(),
  interval: z.number().int(),
});

/** GET /device: verification_uri_complete carries the code; the page still asks the user to confirm it (§5.4). */
export const DeviceQuery = z.looseObject({ user_code: Param(100).optional() });

const Csrf = z.string().max(200).optional();

export const DeviceCodeForm = z.object({ _csrf: Csrf, user_code: Param(100).default('') });

/** The sealed request reference the sign-in and confirm forms carry (domain/oidc/device-grant.ts). */
const Request = z.string().min(1, 'is required').max(1000, 'is too long');

export const DeviceRequestQuery = z.looseObject({ request: Request });

export const DeviceSignInForm = z.object({
  _csrf: Csrf,
  request: Request,
  email: z.string().trim().max(320, 'is too long').default(''),
  // Bounded here so argon2 never sees a huge input (DESIGN.md §4.10).
  password: z
    .string()
    .refine((p) => Buffer.byteLength(p, 'utf8') <= MAX_PASSWORD_BYTES, `is too long (at most ${MAX_PASSWORD_BYTES} bytes)`)
    .default(''),
});

export const DeviceConfirmForm = z.object({ _csrf: Csrf, request: Request, decision: z.enum(['approve', 'deny']) });
