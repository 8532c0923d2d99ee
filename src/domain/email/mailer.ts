// The mailer: renders branded text + HTML emails from views/emails and hands them to SMTP (nodemailer)
// when SMTP_URL is set. Without SMTP_URL it is in "log" mode: messages stay in the outbox table and
// are written to the log, so links are usable in development. It also tracks background sends, so
// shutdown can wait for them.
import { Eta } from 'eta';
import nodemailer, { type Transporter } from 'nodemailer';
import { fileURLToPath } from 'node:url';
import type { Config } from '../../config.js';
import { translator, type LocaleOverrides } from '../../i18n/catalog.js';
import { DEFAULT_LOCALE, isLocale, type Locale } from '../../i18n/locales.js';
import { brandPalette, DEFAULT_BRAND_COLOR } from '../../lib/brand-palette.js';

const VIEWS_DIR = fileURLToPath(new URL('../../../views/', import.meta.url));

export interface EmailContent {
  subject: string;
  text: string;
  html: string;
  /** The sender's display name: the app's name, so the inbox shows who the mail is about (absent in rows queued before it existed). */
  fromName?: string;
}

export interface OutgoingEmail extends EmailContent {
  to: string;
}

export interface Mailer {
  readonly mode: 'smtp' | 'log';
  render(template: EmailTemplate, data: Record<string, unknown>): EmailContent;
  /** Sends over SMTP; throws on failure (the outbox records it and retries). */
  send(msg: OutgoingEmail): Promise<void>;
  /** Keeps a background send alive until close() has waited for it. */
  track(p: Promise<unknown>): void;
  close(): Promise<void>;
}

/** Each email and the message key of its subject (locales/<locale>/email.json). */
export const EMAIL_TEMPLATES = {
  'verify-email': 'email.verifySubject',
  'reset-password': 'email.resetSubject',
  'password-changed': 'email.changedSubject',
  invite: 'email.inviteSubject',
} as const;
export type EmailTemplate = keyof typeof EMAIL_TEMPLATES;

const dateFormats = new Map<string, Intl.DateTimeFormat>();
/** Dates in the reader's language; English is written the British way ("2 December 2026 at 10:29"). */
function dateFormat(locale: Locale, timeZone: string): Intl.DateTimeFormat {
  const id = `${locale} ${timeZone}`;
  let f = dateFormats.get(id);
  if (!f) {
    f = new Intl.DateTimeFormat(locale === 'en' ? 'en-GB' : locale, { dateStyle: 'long', timeStyle: 'short', timeZone });
    dateFormats.set(id, f);
  }
  return f;
}

/**
 * What every template may use besides its data: the text colour for the brand-coloured button (white
 * or black, whichever reaches 4.5:1), the translator of the email's language (`data.locale`, with the
 * app's own texts `data.texts`), and dates for people in that language ("2 December 2026 at 10:29 UTC",
 * "2. Dezember 2026 um 10:29 UTC"): in `data.timeZone` when the reader's zone is known, else UTC, and
 * the zone is always named.
 */
export function emailHelpers(data: Record<string, unknown>) {
  // The colour was validated as #rrggbb when the app was saved; sendAccountEmail passes the default otherwise.
  const brand = typeof data.primaryColor === 'string' ? data.primaryColor : DEFAULT_BRAND_COLOR;
  const locale = isLocale(data.locale) ? data.locale : DEFAULT_LOCALE;
  const timeZone = typeof data.timeZone === 'string' ? data.timeZone : 'UTC';
  const tr = translator(locale, data.texts as LocaleOverrides | undefined);
  return {
    onBrand: brandPalette(brand).onBrand,
    lang: locale,
    t: tr.t,
    th: tr.th,
    formatDate: (value: unknown) => {
      const d = value instanceof Date ? value : new Date(String(value));
      return Number.isNaN(d.getTime()) ? String(value) : `${dateFormat(locale, timeZone).format(d)} ${timeZone}`;
    },
  };
}

/**
 * The From header: the app's name as display name with KEYMASTER_MAIL_FROM's address, or
 * KEYMASTER_MAIL_FROM unchanged. Control characters are dropped so a name can never add a header;
 * nodemailer quotes and encodes the rest.
 */
export function senderOf(mailFrom: string, fromName: string | undefined): string | { name: string; address: string } {
  // eslint-disable-next-line no-control-regex
  const name = fromName?.replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
  if (!name) return mailFrom;
  const address = /<([^<>]+)>\s*$/.exec(mailFrom)?.[1] ?? mailFrom.trim();
  return { name, address };
}

export function createMailer(config: Pick<Config, 'smtpUrl' | 'mailFrom'>): Mailer {
  const html = new Eta({ views: VIEWS_DIR, cache: true, autoEscape: true });
  const text = new Eta({ views: VIEWS_DIR, cache: true, autoEscape: false });
  const transport: Transporter | undefined = config.smtpUrl
    ? nodemailer.createTransport(config.smtpUrl, { from: config.mailFrom })
    : undefined;
  const inFlight = new Set<Promise<unknown>>();
  return {
    mode: transport ? 'smtp' : 'log',
    render(template, data) {
      const view = { ...data, ...emailHelpers(data) };
      return {
        subject: view.t(EMAIL_TEMPLATES[template], { app: String(data.appName) }),
        text: text.render(`emails/${template}.text.eta`, view),
        html: html.render(`emails/${template}.html.eta`, view),
        ...(typeof data.senderName === 'string' && { fromName: data.senderName }),
      };
    },
    async send(msg) {
      if (!transport) throw new Error('no SMTP transport configured');
      await transport.sendMail({
        from: senderOf(config.mailFrom, msg.fromName),
        to: msg.to,
        subject: msg.subject,
        text: msg.text,
        html: msg.html,
      });
    },
    track(p) {
      const settled = p.then(
        () => undefined,
        () => undefined,
      );
      inFlight.add(settled);
      void settled.then(() => inFlight.delete(settled));
    },
    async close() {
      await Promise.all([...inFlight]);
      transport?.close();
    },
  };
}
