// Emails in the reader's language (issue 16): the language of the page a user registers or signs in
// on is remembered on the user row, and their emails (verify, reset, password changed) go out in it,
// through a real SMTP peer, with dates written the language's way and the time zone (UTC) named.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestContext, type TestContext } from '../helpers/app.js';
import { DEFAULT_REDIRECT, makeApp, makeUser } from '../helpers/factories.js';
import { cookieHeader, cookiesOf, csrfTokenOf, form, FORM } from '../helpers/http.js';
import { signIn } from '../helpers/sign-in.js';
import { linkIn, startSmtpCapture, type SmtpCapture } from '../helpers/smtp.js';

let ctx: TestContext;
let smtp: SmtpCapture;
beforeAll(async () => {
  smtp = await startSmtpCapture();
  ctx = await createTestContext({ env: { SMTP_URL: smtp.url }, clock: 'fixed' });
});
afterAll(async () => {
  await ctx?.close();
  await smtp?.close();
});

const q = (appId: string) => new URLSearchParams({ app_id: appId, redirect_uri: DEFAULT_REDIRECT }).toString();
const localeOf = async (id: string) =>
  (await ctx.deps.db.selectFrom('users').select('locale').where('id', '=', id).executeTakeFirstOrThrow()).locale;

async function submit(path: string, fields: Record<string, string>, headers: Record<string, string>) {
  const page = await ctx.app.inject({ url: path, headers });
  const hidden: Record<string, string> = {};
  for (const m of page.body.matchAll(/type="hidden" name="([^"]+)" value="([^"]*)"/g)) hidden[m[1]!] = m[2]!.replaceAll('&amp;', '&');
  return ctx.app.inject({
    method: 'POST',
    url: path.split('?')[0]!,
    headers: { ...headers, ...FORM, cookie: cookieHeader(cookiesOf(page)) },
    payload: form({ ...hidden, _csrf: csrfTokenOf(page.body), ...fields }),
  });
}

describe('emails in the reader’s language', () => {
  it('registering on a German page: the user row says de, the verification email is German', async () => {
    const { app } = await makeApp(ctx.deps, { name: 'Acme' });
    const email = `neu-${Date.now()}@example.com`;
    const res = await submit(
      `/account/register?${q(app.appId)}`,
      { email, password: 'Ein-gutes-Passwort-9' },
      { 'accept-language': 'de-DE,de;q=0.9,en;q=0.5' },
    );
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('Wir haben einen Link an');
    const user = await ctx.deps.db.selectFrom('users').select(['id', 'locale']).where('email', '=', email).executeTakeFirstOrThrow();
    expect(user.locale).toBe('de');
    const mail = await smtp.next(email);
    expect(mail.subject).toBe('Bestätigen Sie Ihre E-Mail-Adresse für Acme');
    expect(mail.text).toContain('Hallo,');
    expect(mail.text).toContain('Der Link ist 24 Stunden lang gültig und funktioniert nur einmal.');
    expect(mail.html).toContain('<html lang="de">');
    expect(mail.html).toContain('E-Mail-Adresse bestätigen</a>');
    expect(mail.html).toContain('Gesendet von Acme · Geschützt durch Keymaster');
    expect(mail.text).not.toMatch(/Hello|valid for|ignore this/);
    expect(linkIn(mail, '/account/verify').searchParams.get('token')).toBeTruthy();
  });

  it('signing in on a German page makes the reset and password-changed emails German, with a German date in UTC', async () => {
    const { app } = await makeApp(ctx.deps, { name: 'Acme' });
    const { user, password } = await makeUser(ctx.deps, { name: 'Jana' });
    expect(await localeOf(user.id)).toBeNull();
    await signIn(ctx, app.appId, user.email, password, { 'accept-language': 'de-CH' });
    expect(await localeOf(user.id)).toBe('de');

    // The reset is asked for from a browser that sends no language: the remembered one wins.
    const asked = await submit(`/account/forgot-password?${q(app.appId)}`, { email: user.email }, {});
    expect(asked.statusCode).toBe(200);
    const reset = await smtp.next(user.email);
    expect(reset.subject).toBe('Ihr Passwort für Acme zurücksetzen');
    expect(reset.text).toContain('Hallo Jana,');
    expect(reset.text).toContain(`Jemand hat angefordert, das Passwort Ihres Kontos bei Acme (${user.email}) zurückzusetzen.`);
    expect(reset.text).toContain('Der Link ist 60 Minuten lang gültig');

    const link = linkIn(reset, '/account/reset-password');
    const done = await submit(
      `${link.pathname}${link.search}`,
      { new_password: 'Neues-Passwort-42!', confirm_password: 'Neues-Passwort-42!' },
      {},
    );
    expect(done.statusCode).toBe(200);
    const changed = await smtp.next(user.email, 0, 'geändert');
    expect(changed.subject).toBe('Ihr Passwort für Acme wurde geändert');
    // The fixed clock is 2026-01-15 12:00 UTC.
    expect(changed.text).toContain(`Das Passwort Ihres Kontos bei Acme (${user.email}) wurde am 15. Januar 2026 um 12:00 UTC geändert.`);
    expect(changed.html).toContain('15. Januar 2026 um 12:00 UTC');
  });

  it('an app’s own email text is used in its locale, escaped in the HTML part', async () => {
    const { app } = await makeApp(ctx.deps, {
      name: 'Acme',
      textOverrides: { fr: { 'email.verifyIgnore': "Pas vous ? '<Ignorez>' ce message." } },
    });
    const email = `fr-${Date.now()}@example.com`;
    await submit(`/account/register?${q(app.appId)}`, { email, password: 'Un-bon-mot-de-passe-9' }, { 'accept-language': 'fr' });
    const mail = await smtp.next(email);
    expect(mail.subject).toBe('Vérifiez votre adresse e-mail pour Acme');
    expect(mail.text).toContain('Pas vous ? <Ignorez> ce message.');
    expect(mail.html).toContain('Pas vous ? &lt;Ignorez&gt; ce message.');
  });
});
