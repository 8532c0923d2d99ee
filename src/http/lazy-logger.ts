// Fastify gives every request a child logger (`req.log`, bound to its reqId). With pino's redaction,
// making one costs ~8 % of a JWKS request's CPU (profile: redact, asChindings), whether or not anything
// is logged. This child is made on the first call at a level the logger has enabled, so a request that
// logs nothing (request logging off, or LOG_LEVEL above info) never pays for it.
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, Logger } from 'pino';

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
type LogFn = FastifyBaseLogger['info'];

export function lazyChildLogger(logger: FastifyBaseLogger, bindings: Bindings, opts: ChildLoggerOptions): FastifyBaseLogger {
  // Our logger is pino's (deps.log), which has isLevelEnabled.
  const parent = logger as unknown as Logger;
  let child: Logger | undefined;
  const real = () => (child ??= parent.child(bindings, opts));
  const at =
    (level: Level): LogFn =>
    (...args: unknown[]) => {
      if (!(child ?? parent).isLevelEnabled(level)) return;
      (real()[level] as (...a: unknown[]) => void)(...args);
    };
  return {
    get level() {
      return (child ?? parent).level;
    },
    set level(value: string) {
      real().level = value;
    },
    isLevelEnabled: (level: string) => (child ?? parent).isLevelEnabled(level),
    fatal: at('fatal'),
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    trace: at('trace'),
    silent: () => {},
    child: (b: Record<string, unknown>, o?: object) => real().child(b, o),
  } as unknown as FastifyBaseLogger;
}
