// `keymaster apps create|update` for private_key_jwt (--auth-method, --jwks-file, --jwks-uri) and
// RFC 9126 (--require-par): a real CLI process on a real database, as test/cli/cli.test.ts runs it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCliDatabase, runCliProcess, type CliDatabase } from '../helpers/cli.js';

let world: CliDatabase;
let dir: string; // key files the commands read
beforeAll(async () => {
  world = await createCliDatabase({ prefix: 'km-cli-keys-' });
  dir = mkdtempSync(join(tmpdir(), 'km-cli-keys-files-'));
});
afterAll(async () => {
  await world.close();
  rmSync(dir, { recursive: true, force: true });
});

const cli = (args: string[]) => runCliProcess(world.env, args);

describe('keymaster apps: client authentication methods and PAR', { timeout: 180_000 }, () => {
  it('create with a JWK Set file and --require-par; update to a jwks_uri; bad key files exit 2', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwksPath = join(dir, 'jwks.json');
    writeFileSync(jwksPath, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1' }] }));
    const created = await cli([
      'apps',
      'create',
      '--name',
      'Keys',
      '--redirect-uri',
      'https://a.example.com/cb',
      '--auth-method',
      'private_key_jwt',
      '--jwks-file',
      jwksPath,
      '--require-par',
      '--json',
    ]);
    expect(created.code, created.stderr).toBe(0);
    const app = JSON.parse(created.stdout);
    expect(app).toMatchObject({
      token_endpoint_auth_method: 'private_key_jwt',
      jwks_uri: null,
      require_pushed_authorization_requests: true,
    });
    expect(app.jwks.keys[0].kid).toBe('k1');
    // Its keys are its credential: no secret is printed.
    expect(app).not.toHaveProperty('client_secret');

    const updated = await cli([
      'apps',
      'update',
      app.app_id,
      '--jwks-uri',
      'https://keys.example.com/jwks.json',
      '--no-require-par',
      '--json',
    ]);
    expect(updated.code, updated.stderr).toBe(0);
    expect(JSON.parse(updated.stdout)).toMatchObject({
      jwks: null,
      jwks_uri: 'https://keys.example.com/jwks.json',
      require_pushed_authorization_requests: false,
    });

    // A private key in the file, a file that is not JSON, an http jwks_uri on a real host: refused, exit 2.
    const privatePath = join(dir, 'private.json');
    writeFileSync(privatePath, JSON.stringify({ keys: [await exportJWK(privateKey)] }));
    const leaked = await cli(['apps', 'update', app.app_id, '--jwks-file', privatePath]);
    expect(leaked.code).toBe(2);
    expect(leaked.stderr).toMatch(/public key/);
    const notJson = await cli(['apps', 'update', app.app_id, '--jwks-file', join(dir, 'missing.json')]);
    expect(notJson.code).toBe(2);
    const http = await cli(['apps', 'update', app.app_id, '--jwks-uri', 'http://keys.example.com/jwks.json']);
    expect(http.code).toBe(2);
    expect(http.stderr).toMatch(/loopback/);
    const shown = JSON.parse((await cli(['apps', 'show', app.app_id, '--json'])).stdout);
    expect(shown.jwks_uri).toBe('https://keys.example.com/jwks.json');
  });

  it('apps update without a flag leaves require-PAR and the other booleans as they were', async () => {
    const created = await cli(['apps', 'create', '--name', 'Plain', '--redirect-uri', 'https://p.example.com/cb', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const app = JSON.parse(created.stdout);
    const off = {
      require_pushed_authorization_requests: false,
      development: false,
      third_party: false,
      backchannel_logout_uri: null,
    };
    expect(app).toMatchObject(off);
    const updated = await cli(['apps', 'update', app.app_id, '--name', 'Renamed', '--json']);
    expect(updated.code, updated.stderr).toBe(0);
    expect(JSON.parse(updated.stdout)).toMatchObject({ name: 'Renamed', ...off });
    const shown = JSON.parse((await cli(['apps', 'show', app.app_id, '--json'])).stdout);
    expect(shown).toMatchObject({ name: 'Renamed', ...off });
    // The pairs still work both ways.
    const on = await cli(['apps', 'update', app.app_id, '--require-par', '--third-party', '--development', '--json']);
    expect(JSON.parse(on.stdout)).toMatchObject({ require_pushed_authorization_requests: true, third_party: true, development: true });
    const renamed = await cli(['apps', 'update', app.app_id, '--name', 'Again', '--json']);
    expect(JSON.parse(renamed.stdout)).toMatchObject({ require_pushed_authorization_requests: true, third_party: true, development: true });
    const back = await cli(['apps', 'update', app.app_id, '--no-require-par', '--no-third-party', '--no-development', '--json']);
    expect(JSON.parse(back.stdout)).toMatchObject(off);
  });
});
