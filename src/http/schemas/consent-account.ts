// zod schemas of the consent page (/authorize/consent) and the hosted account page (/account).
import { z } from 'zod';
import { MAX_PASSWORD_BYTES } from '../../domain/users/passwords.js';
import { AppId, NO_NUL, Uri } from './keymaster.js';
import { Authz } from './login.js';

const Csrf = { _csrf: z.string().max(200).optional() };
const Password = z
  .string()
  .refine((p) => Buffer.byteLength(p, 'utf8') <= MAX_PASSWORD_BYTES, `is too long (at most ${MAX_PASSWORD_BYTES} bytes)`)
  .default('');

export const ConsentQuery = z.object({ app_id: AppId, redirect_uri: Uri, authz: Authz });
export const ConsentForm = ConsentQuery.extend({ ...Csrf, decision: z.enum(['allow', 'deny']) });

/**
 * Where the account sign-in returns: a same-origin path under /account only, never `//host`,
 * `/\\host`, an absolute URL or a dot segment (literal or percent-encoded: `%2e`, `%2f`, `%5c` are
 * refused outright), and resolved as a browser would (WHATWG URL) it must still be /account or below.
 */
const RESOLVE_BASE = 'https://keymaster.invalid';
const underAccount = (v: string): boolean => {
  const url = new URL(v, RESOLVE_BASE);
  return url.origin === RESOLVE_BASE && (url.pathname === '/account' || url.pathname.startsWith('/account/'));
};
export const ReturnTo = z
  .string()
  .max(200)
  .regex(/^\/account(?:[/?][A-Za-z0-9\-._~/?=&%]*)?$/, 'must be a path on this site')
  // No `//`, no backslash, no dot segment (`/account/../login` leaves /account once resolved), no
  // encoded dot, slash or backslash (`/account/%2e%2e/login` is the same path to a browser).
  .refine(
    (v) => !v.includes('//') && !v.includes('\\') && !/\/\.\.?(?:[/?]|$)/.test(v) && !/%(?:2e|2f|5c)/i.test(v) && underAccount(v),
    'must be a path on this site',
  );

export const AccountQuery = z.object({ status: z.string().max(50).optional() });
export const AccountSignInQuery = z.object({ return_to: ReturnTo.optional() });
export const AccountSignInForm = z.object({
  ...Csrf,
  return_to: ReturnTo.optional(),
  email: z
    .string()
    .trim()
    .max(320, 'is too long')
    .refine(...NO_NUL)
    .default(''),
  password: Password,
});
export const ProfileForm = z.object({ ...Csrf, name: z.string().trim().max(200, 'is too long').default('') });
export const PasswordForm = z.object({ ...Csrf, current_password: Password, new_password: Password, confirm_password: Password });
export const CsrfOnlyForm = z.object(Csrf);
export const RowParams = z.object({ id: z.string().max(100) });
