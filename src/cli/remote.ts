// The CLI's side of the admin socket (src/cli/admin-socket.ts): on the embedded database, while a
// server holds the data folder, the command is sent to that server and its output and exit code are
// this process's. On Postgres (DATABASE_URL) nothing is forwarded: the CLI opens the shared database.
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { loadConfig } from '../config.js';
import { adminSocketPath, adminTokenPath, FORWARDED_ENV, type AdminSocketAnswer } from './admin-socket.js';
import { promptHidden } from './prompt.js';

/** How long to wait for the socket of a server that holds the lock but is still starting. */
const STARTING_SERVER_WAIT_MS = 20_000;

/**
 * The exit code of the command run by the server, or undefined when no server answers here (then
 * the command runs in this process, which reports a locked data folder as before).
 */
export async function forwardToServer(argv: string[]): Promise<number | undefined> {
  let dataDir: string;
  try {
    const config = loadConfig();
    if (config.databaseUrl) return undefined;
    dataDir = config.dataDir;
  } catch {
    return undefined; // the local run reports the configuration problem
  }
  const socketPath = adminSocketPath(dataDir);
  if (!existsSync(socketPath) && !(await serverStarting(dataDir, socketPath))) return undefined;
  let token: string;
  try {
    token = readFileSync(adminTokenPath(dataDir), 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    process.stderr.write(
      `keymaster: a server runs on ${dataDir} but ${adminTokenPath(dataDir)} is not readable by this user: run the CLI as the data folder's owner\n`,
    );
    return 1;
  }
  const request = await buildRequest(argv);
  const answer = await send(socketPath, { token, ...request }).catch((err: NodeJS.ErrnoException) => {
    // A socket left by a server that died: nobody listens; run here (the lock is stale too).
    if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (answer === undefined) return undefined;
  if (answer.error !== undefined) {
    process.stderr.write(`keymaster: the running server refused the command: ${answer.error}\n`);
    return 1;
  }
  if (answer.stdout) process.stdout.write(answer.stdout);
  if (answer.stderr) process.stderr.write(answer.stderr);
  return answer.code ?? 1;
}

async function buildRequest(argv: string[]) {
  const args = [...argv];
  let stdin: string | undefined;
  if (args.includes('--password-stdin')) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    stdin = Buffer.concat(chunks).toString('utf8');
  } else if (args[0] === 'admin' && args[1] === 'create' && process.stdin.isTTY && !args.some((a) => a === '--help' || a === '-h')) {
    // The server has no terminal to ask on: ask here, before sending (the user may exist already,
    // then the password is not used).
    const first = await promptHidden('Password for the new administrator (ignored if the user exists): ');
    const again = await promptHidden('Repeat the password: ');
    if (first !== again) {
      process.stderr.write('keymaster: the two passwords differ\n');
      process.exit(2);
    }
    stdin = first;
    args.push('--password-stdin');
  }
  const env = Object.fromEntries(FORWARDED_ENV.flatMap((k) => (process.env[k] !== undefined ? [[k, process.env[k]!]] : [])));
  return { argv: args, stdin, cwd: process.cwd(), env };
}

function send(path: string, request: object): Promise<AdminSocketAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let raw = '';
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (d: string) => (raw += d));
    socket.on('error', reject);
    socket.on('end', () => {
      try {
        resolve(JSON.parse(raw) as AdminSocketAnswer);
      } catch {
        reject(new Error('the running server gave no answer'));
      }
    });
  });
}

/** A live server holds the lock but has no socket yet (it is starting): wait for it. */
async function serverStarting(dataDir: string, socketPath: string): Promise<boolean> {
  const lock = join(dataDir, 'keymaster.lock');
  let holder: string[];
  try {
    holder = readFileSync(lock, 'utf8').trim().split(' ');
  } catch {
    return false;
  }
  const pid = Number(holder[0]);
  if (holder[1] !== 'server' || !Number.isInteger(pid) || pid <= 0 || !alive(pid)) return false;
  const until = Date.now() + STARTING_SERVER_WAIT_MS;
  while (Date.now() < until) {
    if (existsSync(socketPath)) return true;
    if (!alive(pid)) return false;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
