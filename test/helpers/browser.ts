// Real headless Chromium (Debian's package, never a downloaded browser) and a real loopback "app"
// whose callback answers 200, for the browser journeys.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { startTestServer, type TestContext } from './app.js';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does this)`);
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

export async function startAppCallbackServer(): Promise<{ server: Server; callback: string }> {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('app callback'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, callback: `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback` };
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/**
 * axe-core's serious and critical violations on the page as it is now. axe is evaluated through
 * DevTools (not a <script> tag), so the page keeps its CSP and a CSP violation still shows as an error.
 */
export async function seriousAxeViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (d: Document, o: object) => Promise<{ violations: AxeViolation[] }> } }).axe;
    return (await axe.run(document, { resultTypes: ['violations'] })).violations;
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

export interface BrowserJourney {
  ctx: TestContext;
  browser: Browser;
  /** The relying app's callback: a real loopback server that answers 200. */
  callback: string;
}

/**
 * The usual browser-journey fixture for a test file: a real server, a loopback app callback and
 * Chromium, started before the file's tests and closed after. The fields are set once beforeAll ran.
 */
export function useBrowserJourney(): BrowserJourney {
  const journey = {} as BrowserJourney;
  let appServer: Server | undefined;
  beforeAll(async () => {
    journey.ctx = await startTestServer();
    ({ server: appServer, callback: journey.callback } = await startAppCallbackServer());
    journey.browser = await launchChromium();
  });
  afterAll(async () => {
    await journey.browser?.close();
    await journey.ctx?.close();
    appServer?.close();
  });
  return journey;
}
