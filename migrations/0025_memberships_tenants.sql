-- Admin plane, part 1 (issue 14): tenants, per-app memberships with that app's roles and status,
-- registration policies, invites and admin tiers.
--
-- Until now roles lived on users.roles and went into every app's access token, so a user who was
-- `admin` in one app was `admin` in all. Roles now belong to a membership (user × app); migration
-- 0026 moves the old global roles into memberships.

CREATE TABLE tenants (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE apps
  ADD COLUMN tenant_id uuid REFERENCES tenants(id) ON DELETE RESTRICT,
  -- open: anyone may enrol (today's behaviour, so existing apps keep it); invite: only by a redeemed
  -- invite; approval: enrolled as pending until an admin approves.
  ADD COLUMN registration_policy text NOT NULL DEFAULT 'open'
    CHECK (registration_policy IN ('open', 'invite', 'approval')),
  ADD COLUMN available_roles text[] NOT NULL DEFAULT '{user,manager,admin}',
  ADD COLUMN auto_assign_roles text[] NOT NULL DEFAULT '{}',
  -- An uploaded logo (POST /admin/apps/{id}/logo), served from Keymaster's own origin.
  ADD COLUMN logo_data bytea,
  ADD COLUMN logo_content_type text,
  -- The built-in Console app (issue 15's /console; its access tokens are Admin JWTs). One at most.
  ADD COLUMN builtin text CHECK (builtin IN ('console'));
CREATE UNIQUE INDEX apps_builtin ON apps (builtin) WHERE builtin IS NOT NULL;
CREATE INDEX apps_tenant ON apps (tenant_id) WHERE tenant_id IS NOT NULL;

CREATE TABLE memberships (
  user_id        uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  app_id         uuid NOT NULL REFERENCES apps(app_id) ON DELETE CASCADE,
  roles          text[] NOT NULL DEFAULT '{}',
  status         text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'pending')),
  enrolled_at    timestamptz NOT NULL DEFAULT now(),
  last_login_at  timestamptz,
  status_changed_at timestamptz,
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, app_id)
);
-- An app's members, newest first, with a keyset cursor (enrolled_at, user_id).
CREATE INDEX memberships_app ON memberships (app_id, enrolled_at DESC, user_id);

-- Invites: single-use code stored as a SHA-256 hash, emailed to the address; roles granted on accept.
CREATE TABLE invites (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  app_id       uuid NOT NULL REFERENCES apps(app_id) ON DELETE CASCADE,
  email        text NOT NULL,
  roles        text[] NOT NULL DEFAULT '{}',
  code_hash    text NOT NULL UNIQUE,
  created_by   uuid REFERENCES users(id) ON DELETE SET NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  accepted_at  timestamptz,
  accepted_by  uuid REFERENCES users(id) ON DELETE SET NULL,
  revoked_at   timestamptz
);
CREATE INDEX invites_app ON invites (app_id, created_at DESC);
CREATE INDEX invites_email ON invites (lower(email));

-- Admin tiers (Keymaster's): platform admin (everything), tenant admin (the tenant's apps and their
-- users), app admin (one app), manager (one app: invite and revoke, not change the app or roles).
-- Separate from app roles on purpose: an app's own `admin` role never grants Console rights.
CREATE TABLE admin_grants (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id     uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  tier        text NOT NULL CHECK (tier IN ('platform_admin', 'tenant_admin', 'app_admin', 'manager')),
  tenant_id   uuid REFERENCES tenants(id) ON DELETE CASCADE,
  app_id      uuid REFERENCES apps(app_id) ON DELETE CASCADE,
  created_by  uuid REFERENCES users(id) ON DELETE SET NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CHECK (
    (tier = 'platform_admin' AND tenant_id IS NULL AND app_id IS NULL) OR
    (tier = 'tenant_admin' AND tenant_id IS NOT NULL AND app_id IS NULL) OR
    (tier IN ('app_admin', 'manager') AND tenant_id IS NULL AND app_id IS NOT NULL)
  )
);
CREATE UNIQUE INDEX admin_grants_unique ON admin_grants (
  user_id, tier, COALESCE(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid),
  COALESCE(app_id, '00000000-0000-0000-0000-000000000000'::uuid)
);
CREATE INDEX admin_grants_user ON admin_grants (user_id);

-- Admin user search (GET /admin/users?search=): case-insensitive prefix on email and name, indexed.
CREATE INDEX users_email_prefix ON users (lower(email) text_pattern_ops, id);
CREATE INDEX users_name_prefix ON users (lower(name) text_pattern_ops, id) WHERE name IS NOT NULL;
CREATE INDEX users_created ON users (created_at DESC, id);
