-- Statistics on lower(users.name) for the planner (issue 14, admin user search).
--
-- users_name_prefix is a partial index (WHERE name IS NOT NULL), and Postgres uses the expression
-- statistics of non-partial indexes only: without these it guessed that 0.5 % of users match any name
-- prefix. A scoped search (a tenant or app admin's GET /admin/users?search=) then joined a bitmap scan
-- of every matching name to the scope's members instead of walking the index in order: 150 ms with
-- 1,000,000 users and a 10,000-member tenant, 30 ms with the estimate right (docs/ADMIN-API.md).
CREATE STATISTICS users_name_lower ON (lower(name)) FROM users;
ANALYZE users;
