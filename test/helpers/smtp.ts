// A real SMTP peer (smtp-server) on a loopback port that captures what Keymaster sends, decodes the
// text and HTML parts, and lets a test wait for the next message to an address. `failing = true`
// makes it refuse messages with a temporary error (451), to exercise the outbox retries.
import { SMTPServer } from 'smtp-server';

export interface CapturedEmail {
  from: string;
  to: string[];
  subject: string;
  text: string;
  html: string;
  raw: string;
}

export interface SmtpCapture {
  url: string;
  messages: CapturedEmail[];
  failing: boolean;
  /** Resolves with message number `skip` (0-based) to `to`, among those whose subject contains `subject`. */
  next(to: string, skip?: number, subject?: string): Promise<CapturedEmail>;
  to(address: string): CapturedEmail[];
  close(): Promise<void>;
}

function decodePart(headers: string, body: string): string {
  const enc = /content-transfer-encoding:\s*([\w-]+)/i.exec(headers)?.[1]?.toLowerCase();
  if (enc === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (enc === 'quoted-printable') {
    const bytes = body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  return body;
}

/** RFC 2047 encoded words (a subject that is not ASCII): `=?UTF-8?Q?Best=C3=A4tigen?=`, `=?UTF-8?B?…?=`. */
function decodeWords(value: string): string {
  return value.replace(/\?=\s+=\?/g, '?==?').replace(/=\?utf-8\?([QB])\?([^?]*)\?=/gi, (_m, enc: string, text: string) => {
    if (enc.toUpperCase() === 'B') return Buffer.from(text, 'base64').toString('utf8');
    const bytes = text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_h, h: string) => String.fromCharCode(parseInt(h, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  });
}

export function parseEmail(raw: string, envelopeTo: string[], from: string): CapturedEmail {
  const [head = '', ...rest] = raw.split(/\r?\n\r?\n/);
  const headers = head.replace(/\r?\n[ \t]+/g, ' ');
  const subject = decodeWords(/^subject:\s*(.*)$/im.exec(headers)?.[1]?.trim() ?? '');
  const boundary = /boundary="?([^";\r\n]+)"?/i.exec(headers)?.[1];
  const parts: Record<string, string> = {};
  if (boundary) {
    for (const chunk of raw.split(`--${boundary}`).slice(1)) {
      const idx = chunk.search(/\r?\n\r?\n/);
      if (idx < 0) continue;
      const ph = chunk.slice(0, idx);
      const pb = chunk
        .slice(idx)
        .replace(/^\r?\n\r?\n/, '')
        .replace(/\r?\n$/, '');
      const type = /content-type:\s*([\w/]+)/i.exec(ph)?.[1]?.toLowerCase();
      if (type === 'text/plain' || type === 'text/html') parts[type] = decodePart(ph, pb);
    }
  } else {
    parts['text/plain'] = decodePart(headers, rest.join('\n\n'));
  }
  return { from, to: envelopeTo, subject, text: parts['text/plain'] ?? '', html: parts['text/html'] ?? '', raw };
}

export async function startSmtpCapture(): Promise<SmtpCapture> {
  const messages: CapturedEmail[] = [];
  const waiters: (() => void)[] = [];
  const capture = { failing: false } as SmtpCapture;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (capture.failing) {
          callback(Object.assign(new Error('Mailbox temporarily unavailable'), { responseCode: 451 }));
          return;
        }
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        messages.push(
          parseEmail(
            Buffer.concat(chunks).toString('utf8'),
            session.envelope.rcptTo.map((r) => r.address),
            from,
          ),
        );
        callback();
        for (const w of waiters.splice(0)) w();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as { port: number };
  const to = (address: string) => messages.filter((m) => m.to.includes(address.toLowerCase()) || m.to.includes(address));
  return Object.assign(capture, {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    to,
    next(address: string, skip = 0, subject = '') {
      return new Promise<CapturedEmail>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no email to ${address} arrived`)), 10_000);
        const check = () => {
          const m = to(address).filter((e) => e.subject.includes(subject))[skip];
          if (m) {
            clearTimeout(timer);
            resolve(m);
          } else waiters.push(check);
        };
        check();
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}

/** The first Keymaster link in a message's text part, with the given path. */
export function linkIn(email: CapturedEmail, path: string): URL {
  const m = new RegExp(`https?://[^\\s]+${path.replace(/[/]/g, '\\/')}\\?[^\\s]+`).exec(email.text);
  if (!m) throw new Error(`no ${path} link in email: ${email.text}`);
  return new URL(m[0]);
}
