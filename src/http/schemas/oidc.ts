// zod schemas of the OpenID Provider endpoints. Unknown parameters are ignored (RFC 6749 §3.1); a
// repeated parameter arrives as an array and is refused (§3.1: "MUST NOT be included more than once").
import { z } from 'zod';

const Param = (max = 2000) => z.string().max(max, 'is too long');

/** RFC 7521 §4.2 (private_key_jwt, RFC 7523 §2.2): verified by domain/oidc/client-assertion.ts. */
const ClientAssertion = { client_assertion_type: Param(200).optional(), client_assertion: Param(8000).optional() };

export const AuthorizeParams = z.looseObject({
  client_id: Param(100).optional(),
  redirect_uri: Param().optional(),
  response_type: Param(100).optional(),
  response_mode: Param(100).optional(),
  scope: Param(1000).optional(),
  state: Param(1000).optional(),
  nonce: Param(1000).optional(),
  code_challenge: Param(200).optional(),
  code_challenge_method: Param(20).optional(),
  prompt: Param(100).optional(),
  max_age: Param(20).optional(),
  login_hint: Param(320).optional(),
  // OIDC Core §3.1.2.1: space-separated BCP 47 tags; read by the domain (locale negotiation).
  ui_locales: Param(200).optional(),
  request: Param(8000).optional(),
  request_uri: Param().optional(),
  // RFC 8707: checked against the app's registered resources by the domain (invalid_target).
  resource: Param().optional(),
  // OIDC Core §5.5: JSON, parsed and checked by the domain (claims-request.ts; invalid_request).
  claims: Param(4000).optional(),
});

/** RFC 9126 §2.1: the authorization request's parameters, with the client's authentication. */
export const PushedAuthorizationBody = AuthorizeParams.extend({ client_secret: Param(512).optional(), ...ClientAssertion });
export const PushedAuthorizationResponse = z.object({ request_uri: z.string(), expires_in: z.number().int() });

export const TokenBody = z.looseObject({
  grant_type: Param(100).optional(),
  client_id: Param(100).optional(),
  client_secret: Param(512).optional(),
  ...ClientAssertion,
  code: Param(512).optional(),
  redirect_uri: Param().optional(),
  code_verifier: Param(200).optional(),
  refresh_token: Param(512).optional(),
  // RFC 8628 §3.4.
  device_code: Param(512).optional(),
  scope: Param(1000).optional(),
  resource: Param().optional(),
});

export const TokenResponse = z.object({
  access_token: z.string(),
  token_type: z.enum(['Bearer', 'bearer']),
  expires_in: z.number().int(),
  scope: z.string(),
  id_token: z.string().optional(),
  refresh_token: z.string().optional(),
});

export const TokenOpBody = z.looseObject({
  token: z.string().min(1, 'is required').max(8000, 'is too long'),
  token_type_hint: Param(100).optional(),
  client_id: Param(100).optional(),
  client_secret: Param(512).optional(),
  ...ClientAssertion,
});

export const IntrospectionResponse = z.looseObject({ active: z.boolean() });

export const EndSessionParams = z.looseObject({
  id_token_hint: Param(8000).optional(),
  client_id: Param(100).optional(),
  post_logout_redirect_uri: Param().optional(),
  state: Param(1000).optional(),
  logout_hint: Param(320).optional(),
  ui_locales: Param(100).optional(),
});
export const EndSessionForm = EndSessionParams.extend({ _csrf: z.string().max(200).optional() });

export const VerifyBody = z.object({
  token: z.string().min(1, 'is required').max(8000, 'is too long'),
  audience: z.string().min(1).max(100).optional(),
});
