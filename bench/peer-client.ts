// The peer's one client, shared by bench/peer.ts (which registers it) and bench/run.ts (which uses it).
export const PEER_CLIENT = { id: 'bench-client', secret: 'bench-client-secret-0123456789abcdef0123456789' };
