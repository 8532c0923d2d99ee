// The embedded database: one process per data dir (lock file naming the holder), a stale lock is
// taken over, migrations are recorded once and are idempotent.
import { appendFileSync, cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { randomToken, sha256 } from '../../src/lib/crypto.js';
import { acquireDataDirLock, DataDirLockedError } from '../../src/storage/db.js';
import { listMigrations, migrate, MIGRATIONS_DIR, migrationChecksum, MigrationChangedError } from '../../src/storage/migrate.js';
import { loadConfig } from '../../src/config.js';
import { createDeps } from '../../src/deps.js';
import { TEST_SECRET } from '../helpers/app.js';
import { createTestDatabase } from '../helpers/db.js';

describe('data dir lock', () => {
  it('refuses a second holder and names the first', () => {
    const dir = mkdtempSync(join(tmpdir(), 'km-lock-'));
    const release = acquireDataDirLock(dir, 'server');
    try {
      expect(() => acquireDataDirLock(dir, 'cli')).toThrow(DataDirLockedError);
      expect(() => acquireDataDirLock(dir, 'cli')).toThrow(new RegExp(`server with pid ${process.pid}`));
    } finally {
      release();
    }
    const again = acquireDataDirLock(dir, 'cli');
    again();
  });

  it('takes over a stale lock left by a dead process', () => {
    const dir = mkdtempSync(join(tmpdir(), 'km-lock-'));
    const host = hostname();
    writeFileSync(join(dir, 'keymaster.lock'), `999999 server ${host}\n`);
    const release = acquireDataDirLock(dir, 'cli');
    expect(readFileSync(join(dir, 'keymaster.lock'), 'utf8')).toContain(`${process.pid} cli`);
    release();
  });
});

describe('migrations', () => {
  it('are numbered, applied once, and a second run applies nothing', async () => {
    const names = listMigrations().map((m) => m.name);
    expect(names[0]).toBe('0001_init.sql');
    const db = await createTestDatabase();
    try {
      expect(await migrate(db.db)).toEqual([]);
      const rows = await db.db.selectFrom('schema_migrations').select('name').orderBy('name').execute();
      expect(rows.map((r) => r.name)).toEqual(names);
    } finally {
      await db.close();
    }
  });

  it("record each file's checksum and refuse to start when a landed migration was edited", async () => {
    const db = await createTestDatabase();
    try {
      const rows = await db.db.selectFrom('schema_migrations').select(['name', 'checksum']).orderBy('name').execute();
      expect(rows).toEqual(listMigrations().map((m) => ({ name: m.name, checksum: m.checksum })));
      // A copy of the migrations with 0003 edited, as if someone changed it after it landed.
      const dir = mkdtempSync(join(tmpdir(), 'km-migrations-'));
      cpSync(MIGRATIONS_DIR, dir, { recursive: true });
      appendFileSync(join(dir, '0003_oidc.sql'), '\nALTER TABLE apps ADD COLUMN edited_later text;\n');
      writeFileSync(join(dir, '9999_new.sql'), 'CREATE TABLE should_not_exist (x int);\n');
      const refused = migrate(db.db, dir);
      await expect(refused).rejects.toThrow(MigrationChangedError);
      await expect(migrate(db.db, dir)).rejects.toThrow(/migrations\/0003_oidc\.sql was changed after this database applied it/);
      // Nothing of the run was applied: not the later migration, not the checksum.
      const tables = await sql<{
        n: number;
      }>`select count(*)::int as n from information_schema.tables where table_name = 'should_not_exist'`.execute(db.db);
      expect(tables.rows[0]?.n).toBe(0);
      expect(await migrate(db.db)).toEqual([]);
      // A CRLF checkout of the same text is not a change.
      expect(migrationChecksum('a;\r\nb;\r\n')).toBe(migrationChecksum('a;\nb;\n'));
    } finally {
      await db.close();
    }
  });

  it('the server refuses to start on a database whose record of a migration differs from the file', async () => {
    const db = await createTestDatabase();
    try {
      await db.db
        .updateTable('schema_migrations')
        .set({ checksum: 'f'.repeat(64) })
        .where('name', '=', '0005_lifecycle.sql')
        .execute();
      const config = loadConfig({ KEYMASTER_SECRET: TEST_SECRET, LOG_LEVEL: 'silent' });
      const database = { ...db, close: async () => {} };
      await expect(createDeps(config, { database })).rejects.toThrow(/migrations\/0005_lifecycle\.sql was changed/);
    } finally {
      await db.close();
    }
  });

  it('fill in the checksums of migrations applied before checksums were kept', async () => {
    const db = await createTestDatabase();
    try {
      await db.db.updateTable('schema_migrations').set({ checksum: null }).execute();
      expect(await migrate(db.db)).toEqual([]);
      const rows = await db.db.selectFrom('schema_migrations').select('checksum').where('checksum', 'is', null).execute();
      expect(rows).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it('0009 repairs a database that applied the first text of 0003 (no authorization_codes.replayed_at)', async () => {
    const db = await createTestDatabase();
    const hasColumn = async () =>
      (
        await sql<{ n: number }>`select count(*)::int as n from information_schema.columns
          where table_name = 'authorization_codes' and column_name = 'replayed_at'`.execute(db.db)
      ).rows[0]?.n;
    try {
      await sql`alter table authorization_codes drop column replayed_at`.execute(db.db);
      await db.db.deleteFrom('schema_migrations').where('name', '=', '0009_repair_0003.sql').execute();
      expect(await migrate(db.db)).toEqual(['0009_repair_0003.sql']);
      expect(await hasColumn()).toBe(1);
    } finally {
      await db.close();
    }
  });

  it('0010 binds only the families provably issued under client authentication', async () => {
    const db = await createTestDatabase();
    const at = (iso: string) => new Date(iso);
    const app = async (clientType: 'confidential' | 'public', updatedAt: string) =>
      (
        await db.db
          .insertInto('apps')
          .values({ name: `0010 ${clientType} ${updatedAt}`, client_secret_hash: 'x', client_type: clientType, updated_at: at(updatedAt) })
          .returning('app_id')
          .executeTakeFirstOrThrow()
      ).app_id;
    try {
      const user = (
        await db.db
          .insertInto('users')
          .values({ email: `m0010-${Date.now()}@example.com` })
          .returning('id')
          .executeTakeFirstOrThrow()
      ).id;
      const confidential = await app('confidential', '2026-01-01T00:00:00Z');
      const updatedSince = await app('confidential', '2026-03-01T00:00:00Z');
      const pub = await app('public', '2026-01-01T00:00:00Z');
      const code = (appId: string, usedAt: string | null) => {
        const familyId = crypto.randomUUID();
        return {
          familyId,
          row: {
            code_hash: sha256(randomToken(32)),
            app_id: appId,
            user_id: user,
            redirect_uri: 'https://app.example/cb',
            scope: 'openid offline_access',
            auth_time: at('2026-02-01T00:00:00Z'),
            family_id: familyId,
            created_at: at('2026-02-01T00:00:00Z'),
            expires_at: at('2026-02-01T00:01:00Z'),
            used_at: usedAt === null ? null : at(usedAt),
          },
        };
      };
      const families = {
        // A confidential app, unchanged since it redeemed the code: bound (every row of the family).
        redeemed: code(confidential, '2026-02-01T00:00:10Z'),
        // Updated after the redemption: was it confidential then? Not provable.
        updatedSince: code(updatedSince, '2026-02-01T00:00:10Z'),
        // A public client authenticates nothing.
        publicClient: code(pub, '2026-02-01T00:00:10Z'),
        // A code never redeemed issued nothing (a family with its id did not come from it).
        unredeemed: code(confidential, null),
      };
      await db.db
        .insertInto('authorization_codes')
        .values(Object.values(families).map((f) => f.row))
        .execute();
      const token = (familyId: string, appId: string) => ({
        token_hash: sha256(randomToken(32)),
        family_id: familyId,
        app_id: appId,
        user_id: user,
        claims: JSON.stringify({}),
        expires_at: at('2099-01-01T00:00:00Z'),
      });
      const hostedLogin = crypto.randomUUID();
      await db.db
        .insertInto('refresh_tokens')
        .values([
          token(families.redeemed.familyId, confidential),
          token(families.redeemed.familyId, confidential),
          token(families.updatedSince.familyId, updatedSince),
          token(families.publicClient.familyId, pub),
          token(families.unredeemed.familyId, confidential),
          // The hosted /login flow: no code at all.
          token(hostedLogin, confidential),
        ])
        .execute();
      // As before 0010: no column, not applied.
      await sql`alter table refresh_tokens drop column client_bound`.execute(db.db);
      await db.db.deleteFrom('schema_migrations').where('name', '=', '0010_client_bound_refresh.sql').execute();
      expect(await migrate(db.db)).toEqual(['0010_client_bound_refresh.sql']);
      const bound = async (familyId: string) =>
        (await db.db.selectFrom('refresh_tokens').select('client_bound').where('family_id', '=', familyId).execute()).map(
          (r) => r.client_bound,
        );
      expect(await bound(families.redeemed.familyId)).toEqual([true, true]);
      expect(await bound(families.updatedSince.familyId)).toEqual([false]);
      expect(await bound(families.publicClient.familyId)).toEqual([false]);
      expect(await bound(families.unredeemed.familyId)).toEqual([false]);
      expect(await bound(hostedLogin)).toEqual([false]);
    } finally {
      await db.close();
    }
  });

  it('0012 marks for development only the apps that already hold an http: URI on a non-loopback host', async () => {
    const db = await createTestDatabase();
    try {
      const insert = async (name: string, redirect: string, logout: string[] = []) =>
        (
          await db.db
            .insertInto('apps')
            .values({ name: `0012 ${name}`, client_secret_hash: 'x', redirect_uris: [redirect], post_logout_redirect_uris: logout })
            .returning('app_id')
            .executeTakeFirstOrThrow()
        ).app_id;
      const ids = {
        https: await insert('https', 'https://app.example.com/cb'),
        localhost: await insert('localhost', 'http://localhost:3000/cb'),
        loopbackV4: await insert('127.0.0.9', 'http://127.0.0.9/cb'),
        loopbackV6: await insert('[::1]', 'http://[::1]:8080/cb'),
        lanHost: await insert('lan', 'http://192.168.1.20/cb'),
        namedHost: await insert('named', 'http://app.example.com/cb'),
        lookalike: await insert('lookalike', 'http://localhost.evil.example/cb'),
        logoutOnly: await insert('logout', 'https://app.example.com/cb', ['http://intranet/bye']),
        native: await insert('native', 'com.example.app:/cb'),
      };
      // As before 0012: no column, not applied.
      await sql`alter table apps drop column development`.execute(db.db);
      await db.db.deleteFrom('schema_migrations').where('name', '=', '0012_development_apps.sql').execute();
      expect(await migrate(db.db)).toEqual(['0012_development_apps.sql']);
      const rows = await db.db.selectFrom('apps').select(['app_id', 'development']).where('app_id', 'in', Object.values(ids)).execute();
      const development = Object.fromEntries(Object.entries(ids).map(([k, id]) => [k, rows.find((r) => r.app_id === id)!.development]));
      expect(development).toEqual({
        https: false,
        localhost: false,
        loopbackV4: false,
        loopbackV6: false,
        lanHost: true,
        namedHost: true,
        lookalike: true,
        logoutOnly: true,
        native: false,
      });
    } finally {
      await db.close();
    }
  });

  it("0014: a queued delivery is either a webhook's or a back-channel logout (no webhook), never both or neither", async () => {
    const db = await createTestDatabase();
    try {
      const { app_id } = await db.db
        .insertInto('apps')
        .values({ name: '0014', client_secret_hash: 'x', redirect_uris: ['https://app.example.com/cb'] })
        .returning('app_id')
        .executeTakeFirstOrThrow();
      const hook = { id: crypto.randomUUID(), app_id, url: 'https://hooks.example.com/', events: ['ping'], secret_enc: 'x' };
      await db.db.insertInto('webhooks').values(hook).execute();
      const row = (webhookId: string | null, event: string) => ({
        id: crypto.randomUUID(),
        webhook_id: webhookId,
        app_id,
        event,
        payload: '{}',
        next_attempt_at: new Date(),
      });
      await db.db.insertInto('webhook_deliveries').values(row(hook.id, 'ping')).execute();
      await db.db.insertInto('webhook_deliveries').values(row(null, 'backchannel_logout')).execute();
      await expect(db.db.insertInto('webhook_deliveries').values(row(null, 'ping')).execute()).rejects.toThrow(
        /webhook_deliveries_target_check/,
      );
      await expect(db.db.insertInto('webhook_deliveries').values(row(hook.id, 'backchannel_logout')).execute()).rejects.toThrow(
        /webhook_deliveries_target_check/,
      );
    } finally {
      await db.close();
    }
  });
});
