// DESIGN.md §7 rule 12: no throttle lets a third party keep someone out. A browser that has signed in
// to an account (its km_device cookie) keeps signing in with the right password while failures typed
// elsewhere lock the account and trip its per-email limit; everyone else keeps seed 004's lockout.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readKnownDevices, rememberKnownDevice } from '../../src/domain/users/known-devices.js';
import type { FixedClock } from '../../src/lib/clock.js';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { DEFAULT_REDIRECT, makeApp, makeUser } from '../helpers/factories.js';
import { cookieHeader, form, FORM } from '../helpers/http.js';
import { openLoginPage } from '../helpers/security.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestContext({ clock: 'fixed' });
});
afterAll(() => ctx.close());
let ipSeq = 0;
const freshIp = () => `10.7.${Math.floor(++ipSeq / 250)}.${ipSeq % 250}`;

async function postLogin(appId: string, email: string, password: string, opts: { ip: string; device?: string }) {
  const page = await openLoginPage(ctx, appId);
  const cookies = { ...page.cookies, ...(opts.device !== undefined && { km_device: opts.device }) };
  return ctx.app.inject({
    method: 'POST',
    url: '/login',
    remoteAddress: opts.ip,
    headers: { ...FORM, cookie: cookieHeader(cookies) },
    payload: form({ _csrf: page.csrf, app_id: appId, redirect_uri: DEFAULT_REDIRECT, email, password }),
  });
}

const deviceOf = (res: { cookies: { name: string; value: string }[] }) => res.cookies.find((c) => c.name === 'km_device')?.value;

/** The owner signs in once; then a stranger fails from many addresses until the account is locked. */
async function lockedOutByStranger() {
  const { app } = await makeApp(ctx.deps);
  const { user, password } = await makeUser(ctx.deps);
  const first = await postLogin(app.appId, user.email, password, { ip: freshIp() });
  expect(first.statusCode).toBe(303);
  const device = deviceOf(first)!;
  expect(device).toBeDefined();
  // Ten failures from ten addresses, five per window of the per-email limit: the account locks (10),
  // and the limit is tripped again for the current window.
  for (let i = 0; i < 10; i++) {
    if (i === 5) (ctx.clock as FixedClock).advance(15 * 60_000 + 1000);
    expect((await postLogin(app.appId, user.email, 'wrong-password-1!', { ip: freshIp() })).statusCode).toBe(401);
  }
  const row = await ctx.deps.db.selectFrom('users').select(['locked_until']).where('id', '=', user.id).executeTakeFirstOrThrow();
  expect(row.locked_until!.getTime()).toBeGreaterThan(ctx.clock.now().getTime());
  return { app, user, password, device };
}

describe('known devices (km_device)', () => {
  it('a stranger who locks the account does not keep its owner out of a browser they signed in with before', async () => {
    const { app, user, password, device } = await lockedOutByStranger();
    // Without the cookie: seed 004's lockout, with how long and the way out.
    const elsewhere = await postLogin(app.appId, user.email, password, { ip: freshIp() });
    expect([403, 429]).toContain(elsewhere.statusCode);
    expect(Number(elsewhere.headers['retry-after'])).toBeGreaterThan(0);
    expect(elsewhere.body).toContain('Forgot password?');
    // With it: signed in, and the account is unlocked by the owner's right password.
    const owner = await postLogin(app.appId, user.email, password, { ip: freshIp(), device });
    expect(owner.statusCode).toBe(303);
    expect(new URL(owner.headers.location as string).searchParams.get('access_token')).toBeTruthy();
    // The same browser keeps its nonce: one entry, for this user.
    expect(readKnownDevices(ctx.deps.secret, deviceOf(owner))).toEqual(readKnownDevices(ctx.deps.secret, device));
  });

  it('the account-locked page says for how long and offers the reset link (the way out)', async () => {
    const { app, user, password } = await lockedOutByStranger();
    (ctx.clock as FixedClock).advance(16 * 60_000); // past the per-email window: the lock itself answers
    const locked = await postLogin(app.appId, user.email, password, { ip: freshIp() });
    expect(locked.statusCode).toBe(403);
    expect(locked.body).toMatch(/Account is locked after too many failed sign-ins\. Try again in \d+ minutes/);
    expect(locked.body).toContain('/account/forgot-password?');
  });

  it('failures typed on a known device count against that device, not the account', async () => {
    const { app } = await makeApp(ctx.deps);
    const { user, password } = await makeUser(ctx.deps);
    const device = deviceOf(await postLogin(app.appId, user.email, password, { ip: freshIp() }))!;
    for (let i = 0; i < 5; i++) {
      expect((await postLogin(app.appId, user.email, 'typo-password-1!', { ip: freshIp(), device })).statusCode).toBe(401);
    }
    // The device's own limit (the per-email figure) now holds it back…
    expect((await postLogin(app.appId, user.email, password, { ip: freshIp(), device })).statusCode).toBe(429);
    // …while the account was never counted: elsewhere the right password works at once.
    const row = await ctx.deps.db.selectFrom('users').select(['failed_logins']).where('id', '=', user.id).executeTakeFirstOrThrow();
    expect(row.failed_logins).toBe(0);
    expect((await postLogin(app.appId, user.email, password, { ip: freshIp() })).statusCode).toBe(303);
  });

  it('a forged, altered or another account’s device cookie is a stranger', async () => {
    const { app, user, password } = await lockedOutByStranger();
    const { user: other, password: otherPassword } = await makeUser(ctx.deps);
    const othersDevice = deviceOf(await postLogin(app.appId, other.email, otherPassword, { ip: freshIp() }))!;
    const [entry] = othersDevice.split('~');
    const [, nonce, mac] = entry!.split('.');
    const forged = [
      othersDevice, // signed, but for another account
      `${user.id}.${nonce}.${mac}`, // the other account's signature on this account's id
      `${user.id}.${nonce}.${'0'.repeat(64)}`,
      rememberKnownDevice('another-secret-0123456789abcdef0123456789abcdef', undefined, user.id), // another server's key
      'x'.repeat(5000),
    ];
    for (const device of forged) {
      expect(readKnownDevices(ctx.deps.secret, device).some((d) => d.userId === user.id)).toBe(false);
      expect([403, 429]).toContain((await postLogin(app.appId, user.email, password, { ip: freshIp(), device })).statusCode);
    }
  });

  it('one browser remembers up to five accounts, newest first, each keeping its nonce', () => {
    const secret = ctx.deps.secret;
    const ids = Array.from({ length: 7 }, (_, i) => `00000000-0000-4000-8000-00000000000${i}`);
    let cookie: string | undefined;
    for (const id of ids) cookie = rememberKnownDevice(secret, cookie, id);
    const known = readKnownDevices(secret, cookie);
    expect(known.map((d) => d.userId)).toEqual(ids.slice(2).reverse());
    const again = readKnownDevices(secret, rememberKnownDevice(secret, cookie, ids[4]!));
    expect(again[0]).toEqual(known.find((d) => d.userId === ids[4]));
  });
});
