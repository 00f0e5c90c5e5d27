/**
 * Where emails go (one-time codes, and the account links of DESIGN.md §8):
 * SMTP through nodemailer in production, or, for development and tests, one
 * JSON file per message in an outbox directory with `to`, `subject`, `text`
 * and, when the message has one, `html` (and a log line naming the file,
 * never the code or link).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import { TemporarilyUnavailableError } from '../domain/errors.js';

export interface EmailMessage {
  to: string;
  subject: string;
  text: string;
  /** An HTML alternative to `text` (multipart/alternative over SMTP). */
  html?: string;
}

export interface EmailSender {
  readonly describe: string;
  send(message: EmailMessage): Promise<void>;
}

export class OutboxSender implements EmailSender {
  readonly describe: string;
  constructor(
    private readonly dir: string,
    private readonly from: string,
    private readonly logger: Logger,
  ) {
    this.describe = `outbox ${dir}`;
  }

  async send(message: EmailMessage): Promise<void> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const at = new Date().toISOString();
    const file = join(this.dir, `${at.replace(/[:.]/g, '-')}-${randomUUID()}.json`);
    writeFileSync(file, `${JSON.stringify({ at, from: this.from, ...message }, null, 2)}\n`, { mode: 0o600 });
    this.logger.info({ outbox_file: file }, 'email written to the development outbox (set email.smtp_url to send it)');
  }
}

export class SmtpSender implements EmailSender {
  readonly describe: string;
  private readonly transport: Transporter;

  constructor(
    smtpUrl: string,
    private readonly from: string,
  ) {
    this.transport = nodemailer.createTransport(smtpUrl);
    const parsed = new URL(smtpUrl);
    this.describe = `smtp ${parsed.hostname}:${parsed.port || (parsed.protocol === 'smtps:' ? 465 : 587)}`;
  }

  async send(message: EmailMessage): Promise<void> {
    try {
      await this.transport.sendMail({
        from: this.from,
        to: message.to,
        subject: message.subject,
        text: message.text,
        ...(message.html === undefined ? {} : { html: message.html }),
      });
    } catch (err) {
      throw new TemporarilyUnavailableError('The email could not be sent; retry shortly.', 5, {
        logDetail: `SMTP (${this.describe}) refused or failed: ${(err as Error).message}`,
      });
    }
  }
}
