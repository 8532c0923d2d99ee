// Fastify gives every request a child logger (`req.log`, bound to its reqId). With pino's redaction,
// making one costs a visible share of a JWKS request's CPU (docs/PERFORMANCE.md), whether or not anything
// is logged. This child is made on the first call at a level the logger has enabled, so a request that
// logs nothing (request logging off, or LOG_LEVEL above info) never pays for it. A class: one small
// object per request (its methods live on the prototype), not a set of closures.
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, Logger } from 'pino';

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

class LazyChildLogger {
  #child: Logger | undefined;
  constructor(
    readonly parent: Logger,
    readonly bindings: Bindings,
    readonly opts: ChildLoggerOptions,
  ) {}

  #real(): Logger {
    return (this.#child ??= this.parent.child(this.bindings, this.opts));
  }

  #at(level: Level, args: unknown[]): void {
    if (!(this.#child ?? this.parent).isLevelEnabled(level)) return;
    (this.#real()[level] as (...a: unknown[]) => void)(...args);
  }

  get level(): string {
    return (this.#child ?? this.parent).level;
  }
  set level(value: string) {
    this.#real().level = value;
  }
  isLevelEnabled(level: string): boolean {
    return (this.#child ?? this.parent).isLevelEnabled(level);
  }
  fatal(...args: unknown[]) {
    this.#at('fatal', args);
  }
  error(...args: unknown[]) {
    this.#at('error', args);
  }
  warn(...args: unknown[]) {
    this.#at('warn', args);
  }
  info(...args: unknown[]) {
    this.#at('info', args);
  }
  debug(...args: unknown[]) {
    this.#at('debug', args);
  }
  trace(...args: unknown[]) {
    this.#at('trace', args);
  }
  silent() {}
  child(bindings: Bindings, opts?: ChildLoggerOptions): Logger {
    return this.#real().child(bindings, opts);
  }
}

export function lazyChildLogger(logger: FastifyBaseLogger, bindings: Bindings, opts: ChildLoggerOptions): FastifyBaseLogger {
  // Our logger is pino's (deps.log), which has isLevelEnabled.
  return new LazyChildLogger(logger as unknown as Logger, bindings, opts) as unknown as FastifyBaseLogger;
}
