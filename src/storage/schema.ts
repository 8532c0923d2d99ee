// The typed Database interface Kysely checks every query against. Mirrors migrations/ (the truth).
import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type DefaultedTimestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json<T> = ColumnType<T, string, string>;

export interface AppsTable {
  app_id: Generated<string>;
  name: string;
  client_secret_hash: string;
  redirect_uris: ColumnType<string[], string[] | undefined, string[]>;
  post_logout_redirect_uris: ColumnType<string[], string[] | undefined, string[]>;
  logo_url: string | null;
  primary_color: string | null;
  providers: ColumnType<string[], string[] | undefined, string[]>;
  access_token_ttl: number | null;
  refresh_token_ttl_days: number | null;
  client_type: ColumnType<'confidential' | 'public', 'confidential' | 'public' | undefined, 'confidential' | 'public'>;
  grant_types: ColumnType<string[], string[] | undefined, string[]>;
  allowed_scopes: ColumnType<string[], string[] | undefined, string[]>;
  refresh_reuse_interval: ColumnType<number | null, number | null | undefined, number | null>;
  /** May register http: URIs on hosts other than loopback (migration 0012). */
  development: Generated<boolean>;
  /** OIDC Back-Channel Logout 1.0 §2.2 (migration 0014); null = not told. */
  backchannel_logout_uri: ColumnType<string | null, string | null | undefined, string | null>;
  /** Resource Indicators (RFC 8707): the URIs a `resource` parameter may name (migration 0016). */
  resources: ColumnType<string[], string[] | undefined, string[]>;
  /** 0022: a third-party app asks the user's consent at /authorize; first-party apps (false) never do. */
  third_party: Generated<boolean>;
  /** RFC 7591 §2 token_endpoint_auth_method (migration 0021). */
  token_endpoint_auth_method: ColumnType<TokenEndpointAuthMethod, TokenEndpointAuthMethod | undefined, TokenEndpointAuthMethod>;
  /** The public JWK Set (JSON text) a private_key_jwt client signs with, or null (migration 0021). */
  jwks: ColumnType<string | null, string | null | undefined, string | null>;
  jwks_uri: ColumnType<string | null, string | null | undefined, string | null>;
  /** RFC 9126 §6: authorization requests only through /par (migration 0021). */
  require_pushed_authorization_requests: Generated<boolean>;
  /** The language of its pages when the request names none we speak (migration 0023); null = English. */
  default_locale: ColumnType<string | null, string | null | undefined, string | null>;
  /** Per-app texts `{locale: {messageKey: text}}` (migration 0023). */
  text_overrides: ColumnType<Record<string, Record<string, string>>, string | undefined, string>;
  /** Migration 0025 (issue 14): the owning tenant (null: the platform's own), registration policy, roles. */
  tenant_id: ColumnType<string | null, string | null | undefined, string | null>;
  registration_policy: ColumnType<RegistrationPolicy, RegistrationPolicy | undefined, RegistrationPolicy>;
  available_roles: ColumnType<string[], string[] | undefined, string[]>;
  auto_assign_roles: ColumnType<string[], string[] | undefined, string[]>;
  logo_data: ColumnType<Buffer | null, Buffer | null | undefined, Buffer | null>;
  logo_content_type: ColumnType<string | null, string | null | undefined, string | null>;
  /** 'console' for the built-in Console app (its access tokens are Admin JWTs); null for every other. */
  builtin: ColumnType<'console' | null, 'console' | null | undefined, 'console' | null>;
  /** Migration 0029: Keymaster's bundle_id and branding.logo_height (POST /admin/apps). */
  bundle_id: ColumnType<string | null, string | null | undefined, string | null>;
  logo_height: ColumnType<number | null, number | null | undefined, number | null>;
  created_at: DefaultedTimestamp;
  updated_at: DefaultedTimestamp;
}

export type TokenEndpointAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';

/** RFC 7523 §3: a client assertion's jti, kept until its exp (migration 0021). */
export interface ClientAssertionJtisTable {
  app_id: string;
  jti_hash: string;
  expires_at: Timestamp;
}

/** RFC 9126: a pushed authorization request, single use (migration 0021). */
export interface PushedAuthorizationRequestsTable {
  request_hash: string;
  app_id: string;
  params: string;
  created_at: Timestamp;
  expires_at: Timestamp;
}

export interface UsersTable {
  id: Generated<string>;
  email: string;
  email_verified_at: Timestamp | null;
  password_hash: string | null;
  name: string | null;
  /**
   * The global roles of before issue 14 (migration 0026 renamed users.roles): kept for an admin to see
   * and assign; never put in a token. Roles now belong to a membership (memberships.roles).
   */
  legacy_roles: ColumnType<string[], string[] | undefined, string[]>;
  failed_logins: Generated<number>;
  locked_until: Timestamp | null;
  disabled_at: Timestamp | null;
  last_login_at: Timestamp | null;
  created_at: DefaultedTimestamp;
  updated_at: DefaultedTimestamp;
  tokens_valid_after: Timestamp | null;
  /** The language of the user's emails: the one they last used on a page (migration 0023); null = English. */
  locale: ColumnType<string | null, string | null | undefined, string | null>;
}

export type KeyState = 'next' | 'active' | 'previous' | 'retired';

export interface SigningKeysTable {
  kid: string;
  alg: Generated<string>;
  public_jwk: Json<Record<string, unknown>>;
  private_key_enc: string;
  state: KeyState;
  created_at: DefaultedTimestamp;
  activated_at: Timestamp | null;
  retired_at: Timestamp | null;
  activate_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  retire_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export interface SessionsTable {
  id: Generated<string>;
  token_hash: string;
  user_id: string;
  auth_time: Timestamp;
  created_at: DefaultedTimestamp;
  expires_at: Timestamp;
  last_seen_at: Timestamp | null;
  revoked_at: Timestamp | null;
  user_agent: string | null;
  ip: string | null;
  /** How the user signed in, RFC 8176 values space-separated; null = unknown (migration 0018). */
  amr: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface RefreshTokensTable {
  jti: Generated<string>;
  token_hash: string;
  family_id: string;
  parent_jti: string | null;
  app_id: string;
  user_id: string;
  session_id: string | null;
  scope: string | null;
  claims: Json<Record<string, unknown>>;
  auth_time: Timestamp | null;
  created_at: DefaultedTimestamp;
  expires_at: Timestamp;
  last_used_at: Timestamp | null;
  rotated_at: Timestamp | null;
  successor_jti: string | null;
  revoked_at: Timestamp | null;
  revoked_reason: string | null;
  user_agent: string | null;
  ip: string | null;
  reuse_until: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  /** Issued under client authentication: refreshed only with the same client's authentication (migration 0010). */
  client_bound: Generated<boolean>;
  /** The family's sign-in (its first token's time, user agent and address), copied at each rotation (0011). */
  family_started_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  family_user_agent: ColumnType<string | null, string | null | undefined, string | null>;
  family_ip: ColumnType<string | null, string | null | undefined, string | null>;
  /** Migration 0028: a refresh key's bound on its whole family (null: none), and the admin who created it. */
  family_expires_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  issued_by: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface AuditEventsTable {
  id: Generated<number>;
  at: DefaultedTimestamp;
  event: string;
  user_id: string | null;
  app_id: string | null;
  ip: string | null;
  user_agent: string | null;
  data: Json<Record<string, unknown>>;
}

export interface RateLimitsTable {
  key: string;
  window_start: Timestamp;
  count: number;
}

export interface IdentitiesTable {
  id: Generated<string>;
  user_id: string;
  provider: string;
  subject: string;
  email: string | null;
  created_at: DefaultedTimestamp;
  last_login_at: Timestamp | null;
}

export interface UpstreamFlowsTable {
  id_hash: string;
  provider: string;
  state_hash: string;
  secrets_enc: string;
  app_id: string;
  redirect_uri: string;
  client_state: string | null;
  created_at: DefaultedTimestamp;
  expires_at: Timestamp;
  used_at: Timestamp | null;
}

export interface AuthorizationCodesTable {
  code_hash: string;
  app_id: string;
  user_id: string;
  session_id: string | null;
  redirect_uri: string;
  scope: string;
  nonce: string | null;
  code_challenge: string | null;
  code_challenge_method: string | null;
  auth_time: Timestamp;
  family_id: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: Timestamp | null;
  replayed_at: Timestamp | null;
  /** The RFC 8707 resource asked for at /authorize (migration 0016). */
  resource: ColumnType<string | null, string | null | undefined, string | null>;
  /** The session's amr when the code was issued (migration 0018); null = unknown. */
  amr: ColumnType<string | null, string | null | undefined, string | null>;
  /** The `claims` parameter's granted names, JSON (migration 0019, claims-request.ts); null = none. */
  requested_claims: ColumnType<string | null, string | null | undefined, string | null>;
}

/** RFC 8628 device authorization requests (migration 0020, domain/oidc/device-grant.ts). */
export interface DeviceCodesTable {
  device_code_hash: string;
  user_code_hash: string;
  app_id: string;
  scope: string;
  resource: string | null;
  status: ColumnType<DeviceCodeStatus, DeviceCodeStatus | undefined, DeviceCodeStatus>;
  interval_seconds: number;
  last_polled_at: Timestamp | null;
  user_id: string | null;
  session_id: string | null;
  auth_time: Timestamp | null;
  amr: string | null;
  family_id: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  decided_at: Timestamp | null;
  redeemed_at: Timestamp | null;
}
export type DeviceCodeStatus = 'pending' | 'approved' | 'denied' | 'redeemed';

export interface WebhooksTable {
  id: string;
  app_id: string;
  url: string;
  events: ColumnType<string[], string[], string[]>;
  secret_enc: string;
  disabled_at: Timestamp | null;
  created_at: DefaultedTimestamp;
}

export interface WebhookDeliveriesTable {
  id: string;
  /** Null for a back-channel logout (event 'backchannel_logout', migration 0014): it goes to the app's URI. */
  webhook_id: string | null;
  app_id: string;
  event: string;
  payload: string;
  status: ColumnType<
    'pending' | 'delivered' | 'failed',
    'pending' | 'delivered' | 'failed' | undefined,
    'pending' | 'delivered' | 'failed'
  >;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  last_status: number | null;
  last_error: string | null;
  created_at: DefaultedTimestamp;
  delivered_at: Timestamp | null;
}

export interface EmailTokensTable {
  id: Generated<string>;
  token_hash: string;
  user_id: string;
  purpose: 'verify' | 'reset';
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: Timestamp | null;
  /** The pending sign-in the link continues (0017): the app's state and the sealed /authorize request. */
  sign_in_state: string | null;
  sign_in_authz: string | null;
  sign_in_prompt: string | null;
  /** 0022: SHA-256 of the browser-binding cookie of the browser that asked for the link. */
  sign_in_binding: ColumnType<string | null, string | null | undefined, string | null>;
}

/** 0022: what a user allowed a third-party app (the union of the scopes granted so far). */
export interface ConsentsTable {
  id: Generated<string>;
  user_id: string;
  app_id: string;
  scopes: string[];
  granted_at: Timestamp;
  updated_at: Timestamp;
}

export interface EmailOutboxTable {
  id: Generated<number>;
  to_address: string;
  template: string;
  /** encrypt(JSON {subject, text, html}); null once sent. */
  body_enc: string | null;
  status: 'pending' | 'sent' | 'logged' | 'failed';
  attempts: Generated<number>;
  created_at: Timestamp;
  next_attempt_at: Timestamp;
  sent_at: Timestamp | null;
  last_error: string | null;
}

/** TOTP enrolment (migration 0024): secrets AES-GCM encrypted (crypto.ts), bound to user_id. */
export interface UserTotpTable {
  user_id: string;
  secret: string | null;
  pending_secret: string | null;
  enabled_at: Timestamp | null;
  /** The last RFC 6238 time step accepted (int8 is read as a number, db.ts). */
  last_step: ColumnType<number, number | undefined, number>;
  created_at: DefaultedTimestamp;
  updated_at: DefaultedTimestamp;
}

export interface TotpRecoveryCodesTable {
  id: Generated<string>;
  user_id: string;
  code_hash: string;
  created_at: DefaultedTimestamp;
  used_at: Timestamp | null;
}

export interface TotpChallengesTable {
  id: Generated<string>;
  user_id: string;
  app_id: string | null;
  attempts: ColumnType<number, number | undefined, number>;
  created_at: DefaultedTimestamp;
  expires_at: Timestamp;
  used_at: Timestamp | null;
}

export type RegistrationPolicy = 'open' | 'invite' | 'approval';
export type MembershipStatus = 'active' | 'suspended' | 'pending';
export type AdminTier = 'platform_admin' | 'tenant_admin' | 'app_admin' | 'manager';

/** Migration 0025 (issue 14). */
export interface TenantsTable {
  id: Generated<string>;
  name: string;
  created_at: DefaultedTimestamp;
  updated_at: DefaultedTimestamp;
}

/** A user's enrolment in one app: that app's roles and status (migration 0025). */
export interface MembershipsTable {
  user_id: string;
  app_id: string;
  roles: ColumnType<string[], string[] | undefined, string[]>;
  status: ColumnType<MembershipStatus, MembershipStatus | undefined, MembershipStatus>;
  enrolled_at: DefaultedTimestamp;
  last_login_at: Timestamp | null;
  status_changed_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  updated_at: DefaultedTimestamp;
}

export interface InvitesTable {
  id: Generated<string>;
  app_id: string;
  email: string;
  roles: ColumnType<string[], string[] | undefined, string[]>;
  code_hash: string;
  created_by: string | null;
  created_at: DefaultedTimestamp;
  expires_at: Timestamp;
  accepted_at: Timestamp | null;
  accepted_by: string | null;
  revoked_at: Timestamp | null;
}

/** Admin tiers, separate from app roles (migration 0025). */
export interface AdminGrantsTable {
  id: Generated<string>;
  user_id: string;
  tier: AdminTier;
  tenant_id: string | null;
  app_id: string | null;
  created_by: string | null;
  created_at: DefaultedTimestamp;
}

/** Migration 0027: the one first-start setup link (a single row; only its token's hash). */
export interface SetupLinkTable {
  id: ColumnType<boolean, boolean | undefined, boolean>;
  token_hash: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: Timestamp | null;
}

export interface SchemaMigrationsTable {
  name: string;
  applied_at: DefaultedTimestamp;
  /** SHA-256 of the file when it was applied (null: applied before checksums were kept, filled on the next start). */
  checksum: string | null;
}

export interface Database {
  apps: AppsTable;
  users: UsersTable;
  signing_keys: SigningKeysTable;
  sessions: SessionsTable;
  refresh_tokens: RefreshTokensTable;
  audit_events: AuditEventsTable;
  rate_limits: RateLimitsTable;
  identities: IdentitiesTable;
  upstream_flows: UpstreamFlowsTable;
  authorization_codes: AuthorizationCodesTable;
  device_codes: DeviceCodesTable;
  email_tokens: EmailTokensTable;
  email_outbox: EmailOutboxTable;
  schema_migrations: SchemaMigrationsTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  consents: ConsentsTable;
  client_assertion_jtis: ClientAssertionJtisTable;
  pushed_authorization_requests: PushedAuthorizationRequestsTable;
  user_totp: UserTotpTable;
  totp_recovery_codes: TotpRecoveryCodesTable;
  totp_challenges: TotpChallengesTable;
  tenants: TenantsTable;
  memberships: MembershipsTable;
  invites: InvitesTable;
  admin_grants: AdminGrantsTable;
  setup_link: SetupLinkTable;
}

export type AppRow = Selectable<AppsTable>;
export type NewApp = Insertable<AppsTable>;
export type AppUpdate = Updateable<AppsTable>;
export type UserRow = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type SigningKeyRow = Selectable<SigningKeysTable>;
export type SessionRow = Selectable<SessionsTable>;
export type RefreshTokenRow = Selectable<RefreshTokensTable>;
export type NewRefreshToken = Insertable<RefreshTokensTable>;
export type IdentityRow = Selectable<IdentitiesTable>;
export type UpstreamFlowRow = Selectable<UpstreamFlowsTable>;
export type AuthorizationCodeRow = Selectable<AuthorizationCodesTable>;
export type NewAuthorizationCode = Insertable<AuthorizationCodesTable>;
export type DeviceCodeRow = Selectable<DeviceCodesTable>;
export type NewDeviceCode = Insertable<DeviceCodesTable>;
export type WebhookRow = Selectable<WebhooksTable>;
export type WebhookDeliveryRow = Selectable<WebhookDeliveriesTable>;
export type AuditEventRow = Selectable<AuditEventsTable>;
export type EmailTokenRow = Selectable<EmailTokensTable>;
export type ConsentRow = Selectable<ConsentsTable>;
export type EmailOutboxRow = Selectable<EmailOutboxTable>;
export type TenantRow = Selectable<TenantsTable>;
export type MembershipRow = Selectable<MembershipsTable>;
export type InviteRow = Selectable<InvitesTable>;
export type AdminGrantRow = Selectable<AdminGrantsTable>;
