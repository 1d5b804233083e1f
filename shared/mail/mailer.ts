import { appendFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
import type nodemailerModule from 'nodemailer';
import type { Config } from '../config/types.js';
import type { Logger } from '../logging/logger.js';

export interface Mail {
  to: string;
  subject: string;
  text: string;
  /** What kind of mail this is (verification, reset, …): logged instead of the content. */
  kind: string;
}

export interface Mailer {
  send(mail: Mail): Promise<void>;
  readonly transport: 'smtp' | 'outbox' | 'off';
}

export const OUTBOX_FILE = 'outbox.jsonl';

/**
 * One way out for mail. SMTP (nodemailer) when SMTP_URL is set; otherwise the development
 * outbox: one JSON line per message in DATA_DIR/outbox.jsonl, which people (and tests) read
 * to follow links. The log only says that a mail of a kind was sent, never its content or
 * address: both carry secrets (links) and personal data.
 */
export function createMailer(config: Config, logger: Logger): Mailer {
  const log = logger.child({ component: 'mail' });
  if (config.mail.disabled) {
    return {
      transport: 'off',
      async send(mail) {
        log.warn({ kind: mail.kind }, 'mail not sent: MAIL_DISABLED=true');
      },
    };
  }
  if (config.mail.smtpUrl) {
    // Loaded only for SMTP: the development outbox needs none of it.
    const nodemailer = createRequire(import.meta.url)('nodemailer') as typeof nodemailerModule;
    const transporter = nodemailer.createTransport(config.mail.smtpUrl);
    return {
      transport: 'smtp',
      async send(mail) {
        await transporter.sendMail({ from: config.mail.from, to: mail.to, subject: mail.subject, text: mail.text });
        log.info({ kind: mail.kind }, 'mail sent');
      },
    };
  }
  const file = path.join(config.dataDir, OUTBOX_FILE);
  return {
    transport: 'outbox',
    async send(mail) {
      await mkdir(config.dataDir, { recursive: true });
      await appendFile(file, JSON.stringify({ at: new Date().toISOString(), from: config.mail.from, to: mail.to, subject: mail.subject, text: mail.text, kind: mail.kind }) + '\n', { mode: 0o600 });
      log.info({ kind: mail.kind, outbox: file }, 'mail written to the development outbox');
    },
  };
}
