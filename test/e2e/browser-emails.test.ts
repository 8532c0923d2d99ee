// Every email as a phone shows it: rendered by the real mailer, opened in Chromium at 390 px, it fits
// the screen (no horizontal scroll), axe-core finds no serious or critical violation, the button text
// reaches 4.5:1 on a light brand colour, and dates read as dates, not ISO timestamps.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMailer, EMAIL_TEMPLATES, type EmailTemplate } from '../../src/domain/email/mailer.js';
import { contrast } from '../../src/lib/brand-palette.js';
import { launchChromium, seriousAxeViolations } from '../helpers/browser.js';

const mailer = createMailer({ smtpUrl: undefined, mailFrom: 'Keymaster <no-reply@example.com>' });
const LONG_LINK = `https://id.example.com/account/reset-password?token=${'a1b2c3d4'.repeat(12)}&app_id=6f1c0000-0000-4000-8000-000000000000`;

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(() => browser?.close());

describe('emails on a phone', () => {
  for (const template of Object.keys(EMAIL_TEMPLATES) as EmailTemplate[]) {
    it(`${template}: fits 390 px, passes axe, readable button, human dates`, async () => {
      const data = {
        appName: 'Yellow App',
        logoUrl: null,
        primaryColor: '#f5c518',
        name: 'Jane Doe',
        email: 'jane.doe.with.a.long.address@example.com',
        link: LONG_LINK,
        minutes: 60,
        at: '2026-12-02T10:29:00.000Z',
      };
      const mail = mailer.render(template, data);
      expect(mail.html).not.toContain('2026-12-02T10:29');
      expect(mail.text).not.toContain('2026-12-02T10:29');
      if (template === 'password-changed') expect(mail.text).toContain('2 December 2026 at 10:29 UTC');

      const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
      await page.setContent(mail.html);
      const widths = await page.evaluate(() => ({
        scroll: document.documentElement.scrollWidth,
        client: document.documentElement.clientWidth,
      }));
      expect(widths.scroll).toBeLessThanOrEqual(widths.client);
      expect(await seriousAxeViolations(page)).toEqual([]);
      const button = page.locator(`a[href="${LONG_LINK}"]`).first();
      if ((await button.count()) > 0) {
        const [fg, bg] = await button.evaluate((el) => [getComputedStyle(el).color, getComputedStyle(el).backgroundColor]);
        const hex = (rgb: string) =>
          `#${(rgb.match(/\d+/g) ?? [])
            .slice(0, 3)
            .map((n) => Number(n).toString(16).padStart(2, '0'))
            .join('')}`;
        expect(contrast(hex(fg!), hex(bg!))).toBeGreaterThanOrEqual(4.5);
      }
      await page.close();
    });
  }
});
