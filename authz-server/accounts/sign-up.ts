import { z } from 'zod';
import type { Knex } from 'knex';
import { hashPassword } from 'better-auth/crypto';
import { createEmailVerificationToken } from 'better-auth/api';
import type { Auth } from '#shared/auth/better-auth.js';
import type { Config } from '#shared/config/index.js';
import type { Logger } from '#shared/logging/logger.js';
import type { Mailer } from '#shared/mail/mailer.js';
import { checkPassword, describeRefusal } from '#shared/auth/password-policy.js';
import { existingAccountNotice, verificationMail } from './auth-deps.js';
import { findAccountByEmail } from '../queries/users.js';

export const signUpInput = z
  .strictObject({
    name: z.string().trim().min(1, { message: 'Enter your name.' }).max(100),
    email: z.email({ message: 'Enter a valid email address.' }).max(254).transform((e) => e.toLowerCase()),
    password: z.string(),
  })
  .superRefine((v, ctx) => {
    const refused = checkPassword(v.password, { email: v.email, name: v.name });
    // `params` carries zxcvbn's advice for the page to show beside the field (and the JSON details).
    if (refused) ctx.addIssue({ code: 'custom', path: ['password'], message: `The password ${refused.message}.`, params: { help: describeRefusal(refused), warning: refused.warning, suggestions: refused.suggestions } });
  });

export type SignUpInput = z.input<typeof signUpInput>;

/**
 * Verified-account sign-up that never reveals whether an address is registered: both paths
 * hash the password (the dominant cost), answer the same, and send one mail — a verification
 * link to a new address, a "someone tried to register" notice to an existing one.
 */
export function createSignUp(deps: { db: Knex; auth: Auth; mailer: Mailer; config: Config; logger: Logger }) {
  const issuer = deps.config.authz.issuer;
  const send = (mail: Parameters<Mailer['send']>[0]) =>
    void deps.mailer.send(mail).catch((err: Error) => deps.logger.error({ kind: mail.kind, err: { type: err.name, message: err.message } }, 'mail failed'));
  const notify = (email: string) => send(existingAccountNotice(email, `${issuer}/account`, `${issuer}/account/forgot-password`));

  return async function signUp(input: z.output<typeof signUpInput>): Promise<void> {
    const exists = await findAccountByEmail(deps.db, input.email);
    if (exists) {
      await hashPassword(input.password);
      notify(input.email);
      return;
    }
    try {
      await deps.auth.api.createUser({ body: { email: input.email, password: input.password, name: input.name, role: 'user', data: { emailVerified: false } } });
    } catch (err) {
      // Lost a race with a concurrent sign-up of the same address: same answer as above.
      if ((err as { body?: { code?: string } }).body?.code?.startsWith('USER_ALREADY_EXISTS')) return notify(input.email);
      throw err;
    }
    // The link is better-auth's own verification token (its /verify-email checks it). Not its
    // send-verification endpoint: that one pads to 500 ms, which would make new addresses slow
    // and taken ones fast.
    const token = await createEmailVerificationToken(deps.config.secrets.authSecret, input.email, undefined, 24 * 3600);
    send(verificationMail(input.email, `${issuer}/api/auth/verify-email?token=${token}&callbackURL=${encodeURIComponent('/account/verified')}`));
  };
}
