// zod schemas of the account API (seed 004) and its hosted pages.
import { z } from 'zod';
import { AppId, NO_NUL, OpaqueToken, State, Uri } from './keymaster.js';
import { Authz, UiLocales } from './login.js';

/** Syntax only: the policy (seed 004) is checked by the domain, so its message is the documented one. */
const NewPassword = z.string().min(1, 'is required').max(1024, 'is too long');
const LoginPassword = z.string().min(1, 'is required').max(1024, 'is too long');
const EmailField = z
  .string()
  .trim()
  .min(1, 'is required')
  .max(254, 'is too long')
  .pipe(z.email({ message: 'must be a valid email address' }));
const Name = z.string().trim().min(1, 'must not be empty').max(200, 'is too long');

export const RegisterBody = z.object({
  email: EmailField,
  password: NewPassword,
  name: Name.optional(),
  app_id: AppId.optional(),
  redirect_uri: Uri.optional(),
});
export const VerifyEmailBody = z.object({ token: OpaqueToken });
export const LoginBody = z.object({
  email: z.string().trim().min(1, 'is required').max(320, 'is too long'),
  password: LoginPassword,
  app_id: AppId.optional(),
});
export const RefreshBody = z.object({ refresh_token: OpaqueToken, app_id: AppId.optional() });
export const LogoutBody = z.object({ refresh_token: OpaqueToken });
export const ResetRequestBody = z.object({ email: EmailField, app_id: AppId.optional(), redirect_uri: Uri.optional() });
export const ResetConfirmBody = z.object({ token: OpaqueToken, new_password: NewPassword, app_id: AppId.optional() });
export const PatchMeBody = z
  .strictObject({ name: Name.optional(), current_password: LoginPassword.optional(), new_password: NewPassword.optional() })
  .refine((b) => Object.keys(b).length > 0, 'nothing to update');

export const Message = z.object({ message: z.string() });
export const UserJson = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string().nullable(),
  email_verified: z.boolean(),
  is_active: z.boolean(),
  created_at: z.string(),
  last_login_at: z.string().nullable(),
});
export const AccountTokens = z.object({
  access_token: z.string(),
  refresh_token: z.string(),
  token_type: z.literal('bearer'),
  expires_in: z.number().int(),
});
export const LoginResponse = AccountTokens.extend({ user: UserJson });

// Hosted pages: app_id + redirect_uri say where "Continue to sign in" leads; state and authz are the
// pending sign-in the user left (the login schema's limits), carried back to it and kept with an
// email token (no NUL: Postgres text cannot hold one).
const PageContext = {
  app_id: AppId.optional(),
  redirect_uri: Uri.optional(),
  state: State.refine(...NO_NUL).optional(),
  authz: Authz.optional(),
  prompt: z.string().max(100).optional(),
  ui_locales: UiLocales,
};
const Csrf = { _csrf: z.string().max(200).optional() };
export const PageQuery = z.object(PageContext);
export const TokenPageQuery = z.object({ ...PageContext, token: z.string().max(512).default('') });
export const RegisterForm = z.object({
  ...PageContext,
  ...Csrf,
  name: z.string().trim().max(200, 'is too long').default(''),
  email: z.string().trim().max(320, 'is too long').default(''),
  password: z.string().max(1024, 'is too long').default(''),
});
export const VerifyForm = z.object({ ...PageContext, ...Csrf, token: z.string().max(512).default('') });
export const ForgotForm = z.object({ ...PageContext, ...Csrf, email: z.string().trim().max(320, 'is too long').default('') });
export const ResetForm = z.object({
  ...PageContext,
  ...Csrf,
  token: z.string().max(512).default(''),
  new_password: z.string().max(1024, 'is too long').default(''),
  confirm_password: z.string().max(1024, 'is too long').default(''),
});
