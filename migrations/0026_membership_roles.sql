-- Roles per app (issue 14), part 2: the global users.roles becomes users.legacy_roles, and the roles
-- move into memberships (0025). From here on an access token carries the roles of the user's
-- membership of THAT app; legacy_roles is never put in a token.
--
-- The data move. Every (user, app) pair that has met — a refresh token (live or not), an authorization
-- code, a consent, a device authorization the user decided, or an audited sign-in or sign-up through
-- that app — is enrolled, active, with the user's old global roles, so nobody loses access or roles
-- in an app they use. enrolled_at is the pair's first trace, last_login_at its last sign-in trace.
--
-- Users without any pair (never signed in to an app, e.g. created by the CLI and not used yet) get no
-- membership: their old roles stay in legacy_roles, visible (`keymaster users show`) for an admin to
-- assign per app (`keymaster members roles <user> --app <id> --set …`). Until then, signing in to an
-- open app enrols them with that app's auto_assign_roles; an invite or approval app refuses them as
-- it would any new user.
ALTER TABLE users RENAME COLUMN roles TO legacy_roles;

INSERT INTO memberships (user_id, app_id, roles, status, enrolled_at, last_login_at)
SELECT p.user_id, p.app_id, u.legacy_roles, 'active', min(p.first_at), max(p.last_at)
  FROM (
    SELECT user_id, app_id, min(created_at) AS first_at, max(coalesce(last_used_at, created_at)) AS last_at
      FROM refresh_tokens GROUP BY user_id, app_id
    UNION ALL
    SELECT user_id, app_id, min(created_at), max(created_at) FROM authorization_codes GROUP BY user_id, app_id
    UNION ALL
    SELECT user_id, app_id, min(granted_at), NULL FROM consents GROUP BY user_id, app_id
    UNION ALL
    SELECT user_id, app_id, min(coalesce(decided_at, created_at)), NULL FROM device_codes
     WHERE user_id IS NOT NULL AND status IN ('approved', 'redeemed') GROUP BY user_id, app_id
    UNION ALL
    SELECT user_id, app_id, min(at), max(at) FROM audit_events
     WHERE event IN ('login.success', 'user.login', 'user.signup', 'user.registered', 'user.created')
       AND user_id IS NOT NULL AND app_id IS NOT NULL
     GROUP BY user_id, app_id
  ) p
  JOIN users u ON u.id = p.user_id
  JOIN apps a ON a.app_id = p.app_id
 GROUP BY p.user_id, p.app_id, u.legacy_roles
ON CONFLICT (user_id, app_id) DO NOTHING;

-- A role name already in use stays assignable in the app it is used in: it joins that app's
-- available_roles (after the ones there, in name order). Apps whose members use only available
-- roles are not touched.
UPDATE apps a
   SET available_roles = a.available_roles || ARRAY(
         SELECT DISTINCT r FROM memberships m, unnest(m.roles) AS r
          WHERE m.app_id = a.app_id AND NOT (r = ANY (a.available_roles))
          ORDER BY r)
 WHERE EXISTS (
         SELECT 1 FROM memberships m, unnest(m.roles) AS r
          WHERE m.app_id = a.app_id AND NOT (r = ANY (a.available_roles)));
