// AppError: what the domain throws. `code` is an RFC 6749 error code (or a Keymaster one), `description`
// is safe to show to the caller, `detail` is logged only. The HTTP layer decides the shape of the reply.
export type ErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'access_denied'
  | 'unsupported_response_type'
  | 'invalid_token'
  | 'login_required'
  | 'not_found'
  | 'forbidden'
  | 'conflict'
  | 'rate_limited'
  | 'server_error'
  | 'temporarily_unavailable';

const DEFAULT_STATUS: Record<ErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  access_denied: 403,
  unsupported_response_type: 400,
  invalid_token: 401,
  login_required: 400,
  not_found: 404,
  forbidden: 403,
  conflict: 409,
  rate_limited: 429,
  server_error: 500,
  temporarily_unavailable: 503,
};

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly description: string;
  readonly detail: string | undefined;
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, description: string, opts: { status?: number; detail?: string; retryAfter?: number } = {}) {
    super(`${code}: ${description}`);
    this.name = 'AppError';
    this.code = code;
    this.status = opts.status ?? DEFAULT_STATUS[code];
    this.description = description;
    this.detail = opts.detail;
    this.retryAfter = opts.retryAfter;
  }
}

type Opts = { status?: number; detail?: string };
export const invalidRequest = (d: string, o?: Opts) => new AppError('invalid_request', d, o);
export const invalidClient = (d = 'Client authentication failed', o?: Opts) => new AppError('invalid_client', d, o);
export const invalidGrant = (d: string, o?: Opts) => new AppError('invalid_grant', d, o);
export const invalidToken = (d = 'The access token is invalid', o?: Opts) => new AppError('invalid_token', d, o);
export const notFound = (d: string, o?: Opts) => new AppError('not_found', d, o);
export const forbidden = (d: string, o?: Opts) => new AppError('forbidden', d, o);
export const conflict = (d: string, o?: Opts) => new AppError('conflict', d, o);
export const rateLimited = (retryAfter: number, d = 'Too many requests') => new AppError('rate_limited', d, { retryAfter });
