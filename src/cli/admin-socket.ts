// The admin socket: on the embedded database (PGlite is single-process) the CLI cannot open the data
// folder while the server runs, so the server listens on `<dataDir>/admin.sock` (a Unix socket, mode
// 0600, never TCP) and runs the CLI's commands itself: the same commander program (buildProgram)
// against the server's own deps, so the rules are the same and the server's caches see each change
// at once. A request must carry the token in `<dataDir>/admin.token` (random, rewritten at every
// start, 0600: only the data folder's owner can read it); it is compared in constant time.
//
// Protocol: one JSON line each way per connection. Request {token, argv, stdin?, cwd, env}; answer
// {stdout, stderr, code}, or {error} for a refused request.
import { chmodSync, existsSync, lstatSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { z } from 'zod';
import type { Deps } from '../deps.js';
import { randomToken, safeEqual } from '../lib/crypto.js';
import { runInCliScope } from './context.js';

export const adminSocketPath = (dataDir: string) => join(dataDir, 'admin.sock');
export const adminTokenPath = (dataDir: string) => join(dataDir, 'admin.token');

/** A request larger than this (argv and stdin together) is refused. */
export const MAX_REQUEST_BYTES = 1024 * 1024;

export const AdminSocketRequest = z.object({
  token: z.string().max(200),
  argv: z.array(z.string().max(100_000)).max(500),
  stdin: z.string().optional(),
  cwd: z.string().max(4096),
  env: z.record(z.string(), z.string()).default({}),
});

export interface AdminSocketAnswer {
  stdout?: string;
  stderr?: string;
  code?: number;
  error?: string;
}

/** The variables a command may read from its caller's environment. */
export const FORWARDED_ENV = ['KEYMASTER_PASSWORD'] as const;

export type RunProgram = (argv: string[]) => Promise<number>;

export interface AdminSocket {
  path: string;
  close(): Promise<void>;
}

/**
 * Writes a fresh token file, removes a stale socket (the data folder's lock says no other server
 * runs here) and listens. `run` is the CLI's runProgram (passed in: src/cli/main.ts imports this file's
 * callers' code, not the other way round).
 */
export async function startAdminSocket(deps: Pick<Deps, 'config' | 'log'> & Deps, run: RunProgram): Promise<AdminSocket> {
  const dir = deps.config.dataDir;
  const path = adminSocketPath(dir);
  const tokenFile = adminTokenPath(dir);
  const token = randomToken(32);
  // Written aside and renamed: a reader never sees half a token, and the mode is 0600 from the start.
  const tmp = `${tokenFile}.${process.pid}`;
  writeFileSync(tmp, `${token}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, tokenFile);
  if (existsSync(path) || isDanglingLink(path)) rmSync(path, { force: true });

  const server: Server = createServer({ allowHalfOpen: true }, (socket) => void serve(socket));
  const serve = async (socket: Socket) => {
    const answer = (a: AdminSocketAnswer) => socket.end(`${JSON.stringify(a)}\n`);
    socket.setEncoding('utf8');
    socket.on('error', () => socket.destroy());
    const line = await readLine(socket);
    if (line === undefined) return answer({ error: 'request too large' });
    let req: z.infer<typeof AdminSocketRequest>;
    try {
      req = AdminSocketRequest.parse(JSON.parse(line));
    } catch {
      return answer({ error: 'malformed request' });
    }
    if (!safeEqual(req.token, token)) {
      deps.log.warn({ event: 'admin_socket.refused' }, 'admin socket request without the right token refused');
      return answer({ error: `wrong or missing token (read it from ${tokenFile})` });
    }
    let stdout = '';
    let stderr = '';
    const env = Object.fromEntries(FORWARDED_ENV.map((k) => [k, req.env[k]]));
    const code = await runInCliScope(
      { deps, stdin: req.stdin, env, cwd: req.cwd, out: (s) => void (stdout += s), err: (s) => void (stderr += s) },
      () => run(req.argv),
    ).catch((err: unknown) => {
      deps.log.error({ event: 'admin_socket.failed', err }, 'admin socket command failed');
      stderr += 'keymaster: the server could not run the command\n';
      return 1;
    });
    // The command itself, never its arguments (they may hold a name or an email, not a secret, but
    // stdin and KEYMASTER_PASSWORD are never logged).
    deps.log.info(
      { event: 'admin_socket.command', command: req.argv.filter((a) => !a.startsWith('-')).slice(0, 2), code },
      'CLI command run',
    );
    answer({ stdout, stderr, code });
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(path, 0o600);
  deps.log.info({ event: 'admin_socket.listening', path }, 'admin socket listening: the CLI works while the server runs');
  return {
    path,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(path, { force: true });
      rmSync(tokenFile, { force: true });
    },
  };
}

/** The request line (all that came before the end, without a newline), or undefined past MAX_REQUEST_BYTES. */
function readLine(socket: Socket): Promise<string | undefined> {
  return new Promise((resolve) => {
    let raw = '';
    const done = (v: string | undefined) => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      resolve(v);
    };
    const onData = (d: string) => {
      raw += d;
      if (Buffer.byteLength(raw) > MAX_REQUEST_BYTES) done(undefined);
      else if (raw.includes('\n')) done(raw.slice(0, raw.indexOf('\n')));
    };
    const onEnd = () => done(raw);
    socket.on('data', onData);
    socket.on('end', onEnd);
  });
}

function isDanglingLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}
