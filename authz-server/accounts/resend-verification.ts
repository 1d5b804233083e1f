import type { Knex } from 'knex';
import { createEmailVerificationToken } from 'better-auth/api';
import type { Config } from '#shared/config/index.js';
import type { Logger } from '#shared/logging/logger.js';
import type { Mailer } from '#shared/mail/mailer.js';
import { verificationMail } from './auth-deps.js';
import { findAccountByEmail } from '../queries/users.js';

/**
 * A new confirmation link for an account that has not confirmed its address, and nothing for
 * any other address — with the same answer and the same work on the request path either way:
 * one lookup; signing the token is microseconds and the mail leaves off the request path.
 * Not better-auth's send-verification endpoint: it pads every answer to 500 ms.
 */
export function createResendVerification(deps: { db: Knex; mailer: Mailer; config: Config; logger: Logger }) {
  const issuer = deps.config.authz.issuer;
  return async function resendVerification(email: string): Promise<void> {
    const user = await findAccountByEmail(deps.db, email);
    if (!user || user.emailVerified) return;
    const token = await createEmailVerificationToken(deps.config.secrets.authSecret, email, undefined, 24 * 3600);
    const mail = verificationMail(email, `${issuer}/api/auth/verify-email?token=${token}&callbackURL=${encodeURIComponent('/account/verified')}`);
    void deps.mailer.send(mail).catch((err: Error) => deps.logger.error({ kind: mail.kind, err: { type: err.name, message: err.message } }, 'mail failed'));
  };
}
