/**
 * A real SMTP server for the account suites (the `smtp-server` package), on
 * a loopback port: Latchkey sends to it through `email.smtp_url` exactly as
 * to a production relay. Each message is kept raw and read back as a person
 * reads it: its recipient, subject, and the plain-text and HTML parts
 * decoded from their transfer encoding.
 */
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  to: string[];
  subject: string;
  text: string;
  html: string | undefined;
  raw: string;
}

export class SmtpMailbox {
  readonly messages: ReceivedMail[] = [];
  private waiters: Array<() => void> = [];
  private constructor(
    private readonly server: SMTPServer,
    readonly port: number,
  ) {}

  static async start(): Promise<SmtpMailbox> {
    let box: SmtpMailbox | undefined;
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          const to = session.envelope.rcptTo.map((r) => r.address);
          box?.receive(parseMail(to, Buffer.concat(chunks).toString('utf8')));
          callback();
        });
      },
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = (server as unknown as { server: { address(): { port: number } } }).server.address();
    box = new SmtpMailbox(server, address.port);
    return box;
  }

  /** `smtp://127.0.0.1:PORT` for `email.smtp_url`. */
  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  private receive(mail: ReceivedMail): void {
    this.messages.push(mail);
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** The first message to `to` that `match` accepts, waiting for its arrival (the server sends off the request's path). */
  async next(to: string, match: (mail: ReceivedMail) => boolean = () => true): Promise<ReceivedMail> {
    for (;;) {
      const index = this.messages.findIndex((m) => m.to.includes(to) && match(m));
      if (index !== -1) return this.messages.splice(index, 1)[0] as ReceivedMail;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Messages to `to` received so far (and not taken by next()). */
  to(address: string): ReceivedMail[] {
    return this.messages.filter((m) => m.to.includes(address));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** The absolute link of an account email (its text part). */
export function linkIn(mail: ReceivedMail, path: string): string {
  const match = new RegExp(`(https?://\\S+/${path}\\?ticket=[A-Za-z0-9_-]+)`).exec(mail.text);
  if (!match?.[1]) throw new Error(`no ${path} link in ${JSON.stringify(mail.text)}`);
  return match[1];
}

function parseMail(to: string[], raw: string): ReceivedMail {
  const { headers, body } = splitHeaders(raw);
  const subject = headers.get('subject') ?? '';
  const parts = leafParts(headers, body);
  const text = parts.find((p) => p.type.startsWith('text/plain'))?.content ?? '';
  const html = parts.find((p) => p.type.startsWith('text/html'))?.content;
  return { to, subject, text, html, raw };
}

function splitHeaders(raw: string): { headers: Map<string, string>; body: string } {
  const end = raw.indexOf('\r\n\r\n');
  const head = end === -1 ? raw : raw.slice(0, end);
  const headers = new Map<string, string>();
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { headers, body: end === -1 ? '' : raw.slice(end + 4) };
}

function leafParts(headers: Map<string, string>, body: string): Array<{ type: string; content: string }> {
  const type = headers.get('content-type') ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (type.toLowerCase().startsWith('multipart/') && boundary) {
    return body
      .split(`--${boundary}`)
      .slice(1, -1)
      .flatMap((part) => {
        const inner = splitHeaders(part.replace(/^\r\n/, ''));
        return leafParts(inner.headers, inner.body);
      });
  }
  return [{ type: type.toLowerCase(), content: decode(body, headers.get('content-transfer-encoding') ?? '7bit') }];
}

function decode(body: string, encoding: string): string {
  switch (encoding.toLowerCase()) {
    case 'base64':
      return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    case 'quoted-printable':
      return Buffer.from(
        body.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/gi, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))),
        'latin1',
      ).toString('utf8');
    default:
      return body;
  }
}
