// The machine's ceilings, measured in the same run as everything else (each on one pinned core):
//   sign    — RS256 signatures per second (node:crypto, RSA-2048, one thread)
//   argon2  — argon2id verifications per second at the OWASP parameters Keymaster uses (libuv pool)
//   fastify — a bare Fastify server answering a small JSON body (load comes from bench/load.ts)
import { createSign, generateKeyPairSync } from 'node:crypto';
import argon2 from 'argon2';
import Fastify from 'fastify';
import { ARGON2_OPTIONS } from '../src/domain/users/passwords.js';

const mode = process.argv[2];
const seconds = Number(process.argv[3] ?? 3);

if (mode === 'sign') {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const payload = Buffer.from('eyJhbGciOiJSUzI1NiIsImtpZCI6ImsiLCJ0eXAiOiJhdCtqd3QifQ.' + 'x'.repeat(300));
  const end = performance.now() + seconds * 1000;
  let n = 0;
  while (performance.now() < end) {
    createSign('RSA-SHA256').update(payload).sign(privateKey);
    n++;
  }
  process.stdout.write(`${JSON.stringify({ signsPerSec: n / seconds })}\n`);
} else if (mode === 'argon2') {
  const hash = await argon2.hash('bench-password-1', ARGON2_OPTIONS);
  const end = performance.now() + seconds * 1000;
  let n = 0;
  // As many in flight as the libuv pool has threads (4 by default): the most one process gets.
  const worker = async () => {
    while (performance.now() < end) {
      await argon2.verify(hash, 'bench-password-1');
      n++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 4 }, worker));
  process.stdout.write(`${JSON.stringify({ verifiesPerSec: n / ((performance.now() - t0) / 1000) })}\n`);
} else if (mode === 'fastify') {
  const app = Fastify({ logger: false });
  app.get('/', async () => ({ hello: 'world' }));
  await app.listen({ port: Number(process.argv[3]), host: '127.0.0.1' });
  process.stdout.write('ready\n');
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
} else {
  console.error('usage: ceilings.ts sign|argon2 SECONDS | fastify PORT');
  process.exit(2);
}
