// A real Keymaster server process (src/main.ts under tsx), its JSON log lines collected.
import { spawn, type ChildProcess } from 'node:child_process';

export interface ServerProcess {
  url: string;
  child: ChildProcess;
  logs: Record<string, unknown>[];
  /** The pid of every process that logged server.started (the workers with KEYMASTER_WORKERS > 1). */
  serverPids: number[];
  stop(): Promise<void>;
}

/** Starts the server and resolves once `servers` processes have logged server.started. */
export async function spawnServer(
  port: number,
  env: Record<string, string>,
  servers = 1,
  /** A command the server runs under (e.g. strace and its options). */
  wrapper: string[] = [],
): Promise<ServerProcess> {
  const argv = [...wrapper, process.execPath, '--import', 'tsx', 'src/main.ts'];
  const child = spawn(argv[0]!, argv.slice(1), {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      // Parallel test servers would all want the default management port; a test that needs it sets one.
      KEYMASTER_MANAGEMENT_ENABLED: 'false',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const s: ServerProcess = {
    url: `http://127.0.0.1:${port}`,
    child,
    logs: [],
    serverPids: [],
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
  let buf = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server on ${port} did not start: ${stderr}`)), 60_000);
    child.once('exit', (code) => reject(new Error(`server on ${port} exited with ${code}: ${stderr}`)));
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const line of lines) {
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue; // not a log line
        }
        s.logs.push(entry);
        if (entry.event === 'server.started') {
          s.serverPids.push(entry.pid as number);
          if (s.serverPids.length === servers) {
            clearTimeout(timer);
            resolve();
          }
        }
      }
    });
  });
  return s;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
