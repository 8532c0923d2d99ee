// zod schemas of the Admin API (KEYMASTER-API.md §5 where documented; our own fields otherwise). The
// field rules are the domain's own (domain/apps/apps.ts, domain/users/users.ts), so a value the route
// accepts is one the domain accepts too (a domain ZodError would otherwise be a 500).
import { z } from 'zod';
import {
  AppInput,
  AppRole,
  AUTH_METHODS,
  BackchannelLogoutUri,
  BundleId,
  CLIENT_TYPES,
  GRANT_TYPES,
  HexColor,
  LogoHeight,
  PROVIDERS,
  REGISTRATION_POLICIES,
  RedirectUri,
  RefreshTokenTtlDays,
  ResourceUri,
  ReuseInterval,
  SCOPES,
} from '../../domain/apps/apps.js';
import { TenantName } from '../../domain/tenants/tenants.js';
import { Email, Password } from '../../domain/users/users.js';

const NO_NUL = (s: string) => !s.includes('\u0000');
export const Uuid = z.uuid({ message: 'must be a UUID' });
export const Cursor = z
  .string()
  .max(1000)
  .regex(/^[A-Za-z0-9_-]*$/, 'must be a next_cursor from a previous page');
export const Limit = z.coerce.number().int().min(1).max(200).default(50);

export const ErrorJson = z.object({ detail: z.string() }).meta({ id: 'Error' });
export const StatusOk = z.object({ status: z.literal('ok') });

export const AppIdParams = z.object({ app_id: Uuid });
export const UserIdParams = z.object({ user_id: Uuid });
export const MemberParams = z.object({ app_id: Uuid, user_id: Uuid });
export const IdParams = z.object({ id: Uuid });

// Apps -------------------------------------------------------------------------------------------
const Roles = z.array(AppRole).max(50);
const Branding = z.strictObject({
  primary_color: HexColor.nullable().optional(),
  logo_url: AppInput.shape.logoUrl.nullable(),
  logo_height: LogoHeight.nullable().optional(),
});
const TokenLifetimeMinutes = z
  .number()
  .int()
  .min(1)
  .max(24 * 60);

const AppConfigFields = {
  allowed_providers: z.array(z.enum(PROVIDERS)).min(1).optional(),
  redirect_uris: z.array(RedirectUri).min(1, 'at least one redirect URI is required').max(50).optional(),
  post_logout_redirect_uris: z.array(RedirectUri).max(50).optional(),
  available_roles: Roles.optional(),
  auto_assign_roles: Roles.optional(),
  token_lifetime_minutes: TokenLifetimeMinutes.nullable().optional(),
  refresh_lifetime_days: RefreshTokenTtlDays.nullable().optional(),
  branding: Branding.optional(),
};
/** Fields of ours beside Keymaster's `config` (KEYMASTER-API.md §5 documents only those). */
const AppOwnFields = {
  client_type: z.enum(CLIENT_TYPES).optional(),
  grant_types: z.array(z.enum(GRANT_TYPES)).min(1).optional(),
  allowed_scopes: z.array(z.enum(SCOPES)).optional(),
  refresh_reuse_interval: ReuseInterval.nullable().optional(),
  development: z.boolean().optional(),
  backchannel_logout_uri: BackchannelLogoutUri.nullable().optional(),
  resources: z.array(ResourceUri).max(50).optional(),
  third_party: z.boolean().optional(),
  token_endpoint_auth_method: z.enum(AUTH_METHODS).optional(),
  require_pushed_authorization_requests: z.boolean().optional(),
};

export const CreateAppBody = z.strictObject({
  name: z.string().trim().min(1).max(100).refine(NO_NUL, 'must not contain NUL'),
  /** null or absent: an app of the platform itself (platform admins only). */
  tenant_id: Uuid.nullable().optional(),
  bundle_id: BundleId.nullable().optional(),
  registration_policy: z.enum(REGISTRATION_POLICIES).optional(),
  config: z.strictObject({ ...AppConfigFields, redirect_uris: AppConfigFields.redirect_uris.unwrap() }),
  ...AppOwnFields,
});
export const UpdateAppBody = z
  .strictObject({
    name: z.string().trim().min(1).max(100).refine(NO_NUL, 'must not contain NUL').optional(),
    tenant_id: Uuid.nullable().optional(),
    bundle_id: BundleId.nullable().optional(),
    registration_policy: z.enum(REGISTRATION_POLICIES).optional(),
    config: z.strictObject(AppConfigFields).optional(),
    ...AppOwnFields,
  })
  .refine((b) => Object.keys(b).length > 0, 'nothing to update');

export const AppJson = z
  .object({
    id: z.string(),
    name: z.string(),
    tenant_id: z.string().nullable(),
    bundle_id: z.string().nullable(),
    registration_policy: z.enum(REGISTRATION_POLICIES),
    builtin: z.string().nullable(),
    config: z.object({
      allowed_providers: z.array(z.string()),
      redirect_uris: z.array(z.string()),
      post_logout_redirect_uris: z.array(z.string()),
      available_roles: z.array(z.string()),
      auto_assign_roles: z.array(z.string()),
      token_lifetime_minutes: z.number().nullable(),
      refresh_lifetime_days: z.number().nullable(),
      branding: z.object({
        primary_color: z.string().nullable(),
        logo_url: z.string().nullable(),
        logo_height: z.number().nullable(),
        has_logo: z.boolean(),
      }),
    }),
    client_type: z.string(),
    grant_types: z.array(z.string()),
    allowed_scopes: z.array(z.string()),
    refresh_reuse_interval: z.number().nullable(),
    development: z.boolean(),
    backchannel_logout_uri: z.string().nullable(),
    resources: z.array(z.string()),
    third_party: z.boolean(),
    token_endpoint_auth_method: z.string(),
    require_pushed_authorization_requests: z.boolean(),
    created_at: z.string(),
  })
  .meta({ id: 'App' });
export const CreatedAppJson = AppJson.extend({ client_secret: z.string() });
export const AppList = z.object({ apps: z.array(AppJson), next_cursor: z.string().nullable() });
export const AppListQuery = z.object({ limit: Limit, cursor: Cursor.optional(), tenant_id: Uuid.optional() });
export const SecretJson = z.object({ client_secret: z.string() });

// Users ------------------------------------------------------------------------------------------
export const DisplayName = z.string().trim().min(1).max(200).refine(NO_NUL, 'must not contain NUL');
export const UserJson = z
  .object({
    id: z.string(),
    email: z.string(),
    display_name: z.string().nullable(),
    email_verified: z.boolean(),
    is_active: z.boolean(),
    locked: z.boolean(),
    created_at: z.string(),
    last_login_at: z.string().nullable(),
  })
  .meta({ id: 'User' });
export const MembershipJson = z.object({
  app_id: z.string(),
  roles: z.array(z.string()),
  status: z.string(),
  enrolled_at: z.string(),
  last_login_at: z.string().nullable(),
});
export const UserDetailJson = UserJson.extend({ is_platform_admin: z.boolean(), memberships: z.array(MembershipJson) });
export const UserList = z.object({ users: z.array(UserJson), next_cursor: z.string().nullable() });
export const UserListQuery = z.object({
  limit: Limit,
  /** Keymaster's `page` (1-based) is accepted; pages beyond the first are reached with `cursor`. */
  page: z.coerce.number().int().min(1).max(1).optional(),
  search: z.string().trim().min(1).max(254).refine(NO_NUL, 'must not contain NUL').optional(),
  cursor: Cursor.optional(),
  app_id: Uuid.optional(),
});
export const CreateUserBody = z.strictObject({
  email: Email,
  display_name: DisplayName.optional(),
  password: Password.optional(),
  is_platform_admin: z.boolean().optional(),
  email_verified: z.boolean().optional(),
});
export const PatchUserBody = z
  .strictObject({ display_name: DisplayName.optional(), email_verified: z.boolean().optional() })
  .refine((b) => Object.keys(b).length > 0, 'nothing to update');
export const SetRolesBody = z.strictObject({ app_id: Uuid, roles: Roles });

// Tenants and admin tiers -------------------------------------------------------------------------
export const TenantBody = z.strictObject({ name: TenantName.refine(NO_NUL, 'must not contain NUL') });
export const TenantJson = z.object({ id: z.string(), name: z.string(), created_at: z.string(), updated_at: z.string() });
export const TenantList = z.object({ tenants: z.array(TenantJson), next_cursor: z.string().nullable() });
export const PageQuery = z.object({ limit: Limit, cursor: Cursor.optional() });
export const TIERS = ['platform_admin', 'tenant_admin', 'app_admin', 'manager'] as const;
export const GrantBody = z
  .strictObject({
    user_id: Uuid.optional(),
    email: Email.optional(),
    tier: z.enum(TIERS),
    tenant_id: Uuid.optional(),
    app_id: Uuid.optional(),
  })
  .refine((b) => (b.user_id === undefined) !== (b.email === undefined), 'give user_id or email, one of the two');
export const GrantJson = z.object({
  id: z.string(),
  user_id: z.string(),
  tier: z.enum(TIERS),
  tenant_id: z.string().nullable(),
  app_id: z.string().nullable(),
  created_by: z.string().nullable(),
  created_at: z.string(),
});
export const GrantList = z.object({ admins: z.array(GrantJson), next_cursor: z.string().nullable() });
