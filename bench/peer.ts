// The peer: panva's oidc-provider 9 with nothing durable, as the reference for "a well-built Node
// OpenID provider". Started by bench/run.ts on its own core: `peer.ts PORT TOKENS OUTFILE`.
//  - storage: an in-memory Map adapter with the semantics of oidc-provider's own MemoryAdapter. Its
//    built-in one is an LRU of 1,000 entries, which would evict the pre-minted refresh tokens.
//  - one confidential client (client_secret_basic) with client_credentials and refresh_token;
//    rotateRefreshToken: true; access tokens for the resource urn:keymaster:bench are RS256 JWTs
//    (resource indicators), so both grants sign exactly one JWT like Keymaster does.
//  - refresh tokens are minted before the run through the provider's own models (Grant + RefreshToken
//    .save()), the same objects its authorization-code grant creates; each refresh request in the
//    load presents a distinct one. Minting happens before "ready" and is not measured.
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
import Provider from 'oidc-provider';
import { PEER_CLIENT } from './peer-client.js';
const RESOURCE = 'urn:keymaster:bench';

type Payload = Record<string, unknown> & { grantId?: string; uid?: string; userCode?: string; consumed?: number };

const store = new Map<string, Payload>();
const grantMembers = new Map<string, string[]>();

class MapAdapter {
  constructor(private readonly model: string) {}
  key(id: string) {
    return `${this.model}:${id}`;
  }
  async upsert(id: string, payload: Payload) {
    const key = this.key(id);
    if (payload.grantId) {
      const members = grantMembers.get(payload.grantId) ?? [];
      members.push(key);
      grantMembers.set(payload.grantId, members);
    }
    store.set(key, payload);
  }
  async find(id: string) {
    return store.get(this.key(id));
  }
  async findByUid(uid: string) {
    for (const [k, v] of store) if (k.startsWith(`${this.model}:`) && v.uid === uid) return v;
    return undefined;
  }
  async findByUserCode(code: string) {
    for (const [k, v] of store) if (k.startsWith(`${this.model}:`) && v.userCode === code) return v;
    return undefined;
  }
  async consume(id: string) {
    const p = store.get(this.key(id));
    if (p) p.consumed = Math.floor(Date.now() / 1000);
  }
  async destroy(id: string) {
    store.delete(this.key(id));
  }
  async revokeByGrantId(grantId: string) {
    for (const k of grantMembers.get(grantId) ?? []) store.delete(k);
    grantMembers.delete(grantId);
  }
}

const [portArg, tokensArg, outFile] = process.argv.slice(2);
const port = Number(portArg);
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench', alg: 'RS256', use: 'sig' };

const provider = new Provider(`http://127.0.0.1:${port}`, {
  adapter: MapAdapter,
  jwks: { keys: [jwk] },
  cookies: { keys: ['bench-cookie-key-0123456789abcdef'] },
  clients: [
    {
      client_id: PEER_CLIENT.id,
      client_secret: PEER_CLIENT.secret,
      grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
      redirect_uris: ['https://rp.example.com/cb'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  scopes: ['openid', 'offline_access', 'api'],
  findAccount: async (_ctx: unknown, sub: string) => ({ accountId: sub, claims: async () => ({ sub }) }),
  rotateRefreshToken: true,
  ttl: {
    AccessToken: 900,
    ClientCredentials: 900,
    Grant: 14 * 86_400,
    RefreshToken: 14 * 86_400,
    Session: 86_400,
    Interaction: 3_600,
    IdToken: 3_600,
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'api',
        audience: RESOURCE,
        accessTokenTTL: 900,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
});

// Mint refresh tokens the way the authorization-code grant does: a Grant holding the scopes, then a
// RefreshToken bound to it. One grant per token, like one sign-in per Keymaster token family.
const count = Number(tokensArg ?? 0);
const client = await provider.Client.find(PEER_CLIENT.id);
const tokens: string[] = [];
for (let i = 0; i < count; i++) {
  const accountId = `user-${i % 100}`;
  const grant = new provider.Grant({ accountId, clientId: PEER_CLIENT.id });
  grant.addOIDCScope('offline_access');
  grant.addResourceScope(RESOURCE, 'api');
  const grantId = await grant.save();
  const rt = new provider.RefreshToken({
    accountId,
    client,
    grantId,
    gty: 'authorization_code',
    scope: 'offline_access api',
    resource: RESOURCE,
    authTime: Math.floor(Date.now() / 1000),
  });
  tokens.push(await rt.save());
}
if (outFile) writeFileSync(outFile, JSON.stringify(tokens));

const server = createServer(provider.callback());
server.listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
