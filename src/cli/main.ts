// `keymaster` — the admin CLI. Calls the same domain functions as the server, never HTTP.
import { Command, CommanderError } from 'commander';
import { migrate } from '../storage/migrate.js';
import { registerAdminCommands } from './commands/admin.js';
import { registerAppCommands } from './commands/apps.js';
import { registerAuditCommands } from './commands/audit.js';
import { registerTokenCommands } from './commands/tokens.js';
import { registerHousekeepingCommands } from './commands/housekeeping.js';
import { registerKeyCommands } from './commands/keys.js';
import { registerMemberCommands } from './commands/members.js';
import { registerUserCommands } from './commands/users.js';
import { registerWebhookCommands } from './commands/webhooks.js';
import { loadConfig } from '../config.js';
import { openDatabase } from '../storage/db.js';
import { appError } from '../errors.js';
import { isRemote, print, reportError, writeErr, writeOut } from './context.js';
import { forwardToServer } from './remote.js';

export function buildProgram(): Command {
  const program = new Command('keymaster').description('Keymaster identity server administration').showHelpAfterError(false);

  program
    .command('migrate')
    .description('apply pending database migrations')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      if (isRemote())
        throw appError('usage', {
          message:
            'migrate cannot run while the server runs: it applied every pending migration when it started (stop it to migrate by hand)',
        });
      // Opens the database alone: createDeps would migrate first and leave nothing to report.
      const handle = await openDatabase(loadConfig(), 'cli');
      try {
        const applied = await migrate(handle.db);
        print(o.json, { applied }, applied.length ? `applied ${applied.join(', ')}` : 'database is up to date');
      } finally {
        await handle.close();
      }
    });

  registerAppCommands(program);
  registerAdminCommands(program);
  registerUserCommands(program);
  registerMemberCommands(program);
  registerTokenCommands(program);
  registerAuditCommands(program);
  registerWebhookCommands(program);
  registerKeyCommands(program);
  registerHousekeepingCommands(program);
  return program;
}

/**
 * `keymaster …` as typed: on the embedded database, while a server holds it, the command runs inside
 * that server (src/cli/remote.ts); otherwise here.
 */
export async function runCli(argv: string[]): Promise<number> {
  let forwarded: number | undefined;
  try {
    forwarded = await forwardToServer(argv);
  } catch (err) {
    return reportError(err);
  }
  return forwarded ?? runProgram(argv);
}

/** Parses and runs one command in this process (or, over the admin socket, inside the server). */
export async function runProgram(argv: string[]): Promise<number> {
  const program = buildProgram();
  // Commander's own parse errors, on every (sub)command: one line, no help dump.
  const parseErr = (s: string) => writeErr(`keymaster: ${s.split('\n')[0]!.replace(/^error: /, '')}\n`);
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  for (const cmd of all(program)) cmd.exitOverride().configureOutput({ writeErr: parseErr, writeOut });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; every other parse problem is a usage error.
      return err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.help' ? 0 : 2;
    }
    return reportError(err);
  }
}

// Run directly (`tsx src/cli/main.ts …`, `npm run cli -- …`); src/cli/bin.js (the `keymaster` bin) calls runCli itself.
if (process.argv[1] && /cli[\\/]main\.ts$/.test(process.argv[1])) {
  void runCli(process.argv.slice(2)).then((code) => process.exit(code));
}
