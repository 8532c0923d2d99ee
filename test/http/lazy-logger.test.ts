// req.log is made on first use at an enabled level: a request that logs nothing never builds a pino
// child (with redaction, ~8 % of a JWKS request), and one that logs gets the usual bound, redacted lines.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/deps.js';
import { lazyChildLogger } from '../../src/http/lazy-logger.js';

function setup(level: string) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({ write: (chunk, _enc, cb) => (lines.push(JSON.parse(String(chunk))), cb()) });
  const logger = createLogger({ logLevel: level as 'info' }, sink);
  let children = 0;
  const child = logger.child.bind(logger);
  logger.child = ((...args: Parameters<typeof logger.child>) => (children++, child(...args))) as typeof logger.child;
  return { lines, logger, children: () => children };
}

describe('lazyChildLogger', () => {
  it('makes no child for calls below the level, one child for every call at or above it', async () => {
    const { lines, logger, children } = setup('warn');
    const log = lazyChildLogger(logger, { reqId: 'req-7' }, {});
    log.info('incoming request');
    log.debug('details');
    expect(children()).toBe(0);
    log.warn({ event: 'x', body: { password: 'hunter2' } }, 'first');
    log.error('second');
    expect(children()).toBe(1);
    await new Promise((r) => setImmediate(r));
    expect(lines.map((l) => [l.msg, l.reqId])).toEqual([
      ['first', 'req-7'],
      ['second', 'req-7'],
    ]);
    expect(lines[0]!.body).toEqual({ password: '[Redacted]' });
  });

  it('reports and changes the level like a pino child', () => {
    const { logger } = setup('info');
    const log = lazyChildLogger(logger, { reqId: 'req-8' }, {});
    expect(log.level).toBe('info');
    log.level = 'error';
    expect(log.level).toBe('error');
    expect(logger.level).toBe('info');
    expect(typeof log.child({ a: 1 }).info).toBe('function');
  });
});
