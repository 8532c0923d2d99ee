// zod schemas of the hosted sign-in and SSO logout pages.
import { z } from 'zod';
import { uiLocaleOf } from '../../i18n/locales.js';
import { MAX_PASSWORD_BYTES } from '../../domain/users/passwords.js';
import { AppId, NO_NUL, State, Uri } from './keymaster.js';

/** The sealed /authorize request a sign-in page carries (authorization.ts): bounded here, opened by the domain. */
export const Authz = z
  .string()
  .max(8000, 'is too long')
  .refine(...NO_NUL);

/**
 * OIDC ui_locales (Core §3.1.2.1): space-separated BCP 47 tags, a preference. Read as the first
 * supported locale it names (src/i18n/locales.ts); anything else is ignored, never refused.
 */
export const UiLocales = z
  .string()
  .optional()
  .transform((v) => uiLocaleOf(v?.slice(0, 100)));

export const LoginQuery = z.object({
  app_id: AppId,
  redirect_uri: Uri,
  state: State.optional(),
  // Back from an account page (issue 16): the /authorize request the user left, so the sign-in still ends with a code.
  authz: Authz.optional(),
  prompt: z.string().max(100).optional(),
  // OIDC ui_locales (Core §3.1.2.1), carried through the journey: the pages' language.
  ui_locales: UiLocales,
});

export const LoginForm = z.object({
  _csrf: z.string().max(200).optional(),
  app_id: AppId,
  redirect_uri: Uri,
  state: State.optional(),
  authz: Authz.optional(),
  // Carried on to the account links of a re-rendered form (only `login` means anything to /login).
  prompt: z.string().max(100).optional(),
  ui_locales: UiLocales,
  email: z
    .string()
    .trim()
    .max(320, 'is too long')
    .refine(...NO_NUL)
    .default(''),
  // Bounded here so argon2 never sees a huge input (DESIGN.md §4.10).
  password: z
    .string()
    .refine((p) => Buffer.byteLength(p, 'utf8') <= MAX_PASSWORD_BYTES, `is too long (at most ${MAX_PASSWORD_BYTES} bytes)`)
    .default(''),
});

export const SsoLogoutQuery = z.object({
  app_id: AppId.optional(),
  client_id: AppId.optional(),
  post_logout_redirect_uri: Uri.optional(),
  state: State.optional(),
  ui_locales: UiLocales,
});

export const SsoLogoutForm = SsoLogoutQuery.extend({ _csrf: z.string().max(200).optional() });

/** The sealed pending second factor (domain/sign-in): bounded here, opened by the domain. */
export const TotpSession = z
  .string()
  .min(1)
  .max(4000, 'is too long')
  .refine(...NO_NUL);
/** A TOTP code or a recovery code, as typed (spaces and dashes allowed). */
export const SecondFactorCode = z
  .string()
  .trim()
  .max(64, 'is too long')
  .refine(...NO_NUL);

/** The code page after the password (POST /login/totp): the pending sign-in, and the code or a recovery code. */
export const TotpLoginForm = LoginForm.omit({ email: true, password: true }).extend({
  totp_session: TotpSession,
  code: SecondFactorCode.default(''),
  recovery_code: SecondFactorCode.default(''),
});

/** The code page of a session-only sign-in (/account/sign-in/totp, /device/login/totp). */
export const SessionTotpFields = {
  _csrf: z.string().max(200).optional(),
  totp_session: TotpSession,
  code: SecondFactorCode.default(''),
  recovery_code: SecondFactorCode.default(''),
};

/** The code typed, or the recovery code when only that field was filled in. */
export function secondFactorOf(f: { code: string; recovery_code: string }): { code: string; recovery: boolean } {
  const recovery = f.code === '' && f.recovery_code !== '';
  return { code: recovery ? f.recovery_code : f.code, recovery };
}
