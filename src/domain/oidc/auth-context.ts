// How the user authenticated, as tokens say it: `amr` (OIDC Core §2, values from RFC 8176 §2) and
// `acr` (OIDC Core §2; RFC 9068 §2.2.3 for access tokens). Recorded on the SSO session when it starts
// (sessions.amr, migration 0018) and carried by the authorization code. Keymaster's acr values:
// - urn:keymaster:acr:pwd — single factor: the account's password (amr ["pwd"]).
// - urn:keymaster:acr:mfa — the password and a second factor (amr ["pwd","otp"]: TOTP, issue 17). A sign-in through an upstream IdP records no amr: RFC 8176
// has no value for "federated", and the upstream's own methods are not ours to assert; both claims
// are then omitted. acr_values at /authorize is voluntary (OIDC Core §3.1.2.1): the actual acr is
// returned whatever was asked for.

/** RFC 8176 §2 values Keymaster records. */
export type AuthMethod = 'pwd' | 'otp';

export const ACR_PASSWORD = 'urn:keymaster:acr:pwd';
export const ACR_MFA = 'urn:keymaster:acr:mfa';
/** Advertised as acr_values_supported in discovery. */
export const ACR_VALUES: readonly string[] = [ACR_PASSWORD, ACR_MFA];

/** The stored form (sessions.amr, authorization_codes.amr): space-separated, or null when unknown. */
export function formatAmr(methods: readonly AuthMethod[] | null): string | null {
  return methods && methods.length > 0 ? methods.join(' ') : null;
}

/** The `amr` and `acr` claims for a stored amr; nothing when it is unknown. */
export function authContextClaims(amr: string | null | undefined): { amr?: string[]; acr?: string } {
  if (!amr) return {};
  const methods = amr.split(' ').filter(Boolean);
  if (methods.length === 0) return {};
  const acr = methods.includes('pwd') ? (methods.includes('otp') ? ACR_MFA : ACR_PASSWORD) : undefined;
  return { amr: methods, ...(acr && { acr }) };
}
