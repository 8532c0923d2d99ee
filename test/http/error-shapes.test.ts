// Answers that Fastify used to shape itself come in the documented error shapes: 413 (body too
// large), 431 (headers too large: before any route, so the OAuth shape), and the 503 of a request
// that arrives while the server is shutting down (in its route's shape, with Retry-After).
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestContext } from '../helpers/app.js';

let ctx: TestContext;
let port: number;
beforeAll(async () => {
  ctx = await startTestServer();
  port = Number(new URL(ctx.baseUrl).port);
});
afterAll(() => ctx.close());

function openSocket(): Promise<{ socket: Socket; response: () => string; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    let data = '';
    const socket = connect(port, '127.0.0.1', () => resolve({ socket, response: () => data, closed }));
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('data', (d: Buffer) => (data += d.toString()));
    socket.once('error', reject);
  });
}

/** Resolves once a whole JSON body has arrived (the socket may stay open). */
async function answered(response: () => string): Promise<void> {
  while (!/\r\n\r\n\{.*\}$/s.test(response())) await new Promise((r) => setTimeout(r, 10));
}

const bodyOf = (raw: string) => JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;

describe('error shapes of the transport layer', () => {
  it('413 in the OAuth shape on /token/refresh and in the {detail} shape on the account API', async () => {
    const big = JSON.stringify({ refresh_token: 'a'.repeat(200_000), app_id: '00000000-0000-4000-8000-000000000000' });
    const oauth = await ctx.app.inject({
      method: 'POST',
      url: '/token/refresh',
      headers: { 'content-type': 'application/json' },
      payload: big,
    });
    expect(oauth.statusCode).toBe(413);
    expect(oauth.json()).toEqual({ error: 'invalid_request', error_description: 'Request body is too large' });
    const detail = await ctx.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      headers: { 'content-type': 'application/json' },
      payload: big,
    });
    expect(detail.statusCode).toBe(413);
    expect(detail.json()).toEqual({ detail: 'Request body is too large' });
  });

  it('431 for oversized headers, in the OAuth shape', async () => {
    const { socket, response, closed } = await openSocket();
    socket.write(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    await closed;
    expect(response()).toMatch(/^HTTP\/1\.1 431 /);
    expect(bodyOf(response())).toEqual({ error: 'invalid_request', error_description: 'Request headers are too large' });
  });

  it('503 + Retry-After in the route shape for a request that arrives while the server shuts down', async () => {
    // A request in flight keeps the server closing; a second connection has begun its request.
    const inFlight = await openSocket();
    const body = JSON.stringify({ refresh_token: 'b'.repeat(64), app_id: '00000000-0000-4000-8000-000000000000' });
    inFlight.socket.write(
      `POST /token/refresh HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
    );
    const late = await openSocket();
    late.socket.write(`POST /api/v1/auth/refresh HTTP/1.1\r\nHost: x\r\n`);
    await new Promise((r) => setTimeout(r, 50)); // both requests reach the server before it starts closing
    const closing = ctx.app.close();
    await new Promise((r) => setImmediate(r));
    late.socket.write(`Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    await answered(late.response);
    expect(late.response()).toMatch(/\r\nconnection: close\r\n/i);
    late.socket.destroy(); // as a client does after Connection: close
    expect(late.response()).toMatch(/^HTTP\/1\.1 503 /);
    expect(late.response()).toMatch(/\r\nretry-after: 1\r\n/i);
    expect(bodyOf(late.response())).toEqual({ error: 'temporarily_unavailable', retry_after: 1, detail: expect.any(String) });
    inFlight.socket.write(body.slice(5));
    await answered(inFlight.response);
    inFlight.socket.destroy();
    expect(inFlight.response()).toMatch(/^HTTP\/1\.1 401 /);
    await closing;
  });
});
