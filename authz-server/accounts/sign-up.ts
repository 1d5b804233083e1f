import { z } from 'zod';
import type { Knex } from 'knex';
import { hashPassword } from 'better-auth/crypto';
import type { Auth } from '#shared/auth/better-auth.js';
import type { Config } from '#shared/config/index.js';
import type { Logger } from '#shared/logging/logger.js';
import type { Mailer } from '#shared/mail/mailer.js';
import { passwordProblem } from '#shared/auth/password-policy.js';
import { existingAccountNotice } from './auth-deps.js';

export const signUpInput = z.strictObject({
  name: z.string().trim().min(1, { message: 'Enter your name.' }).max(100),
  email: z.email({ message: 'Enter a valid email address.' }).max(254).transform((e) => e.toLowerCase()),
  password: z.string().superRefine((p, ctx) => {
    const problem = passwordProblem(p);
    if (problem) ctx.addIssue({ code: 'custom', message: `The password ${problem}.` });
  }),
});

export type SignUpInput = z.input<typeof signUpInput>;

/**
 * Verified-account sign-up that never reveals whether an address is registered: both paths
 * hash the password (the dominant cost), answer the same, and send one mail — a verification
 * link to a new address, a "someone tried to register" notice to an existing one.
 */
export function createSignUp(deps: { db: Knex; auth: Auth; mailer: Mailer; config: Config; logger: Logger }) {
  const issuer = deps.config.authz.issuer;
  const notify = (email: string) =>
    void deps.mailer
      .send(existingAccountNotice(email, `${issuer}/account`, `${issuer}/account/forgot-password`))
      .catch((err: Error) => deps.logger.error({ err: { type: err.name, message: err.message } }, 'mail failed'));

  return async function signUp(input: z.output<typeof signUpInput>): Promise<void> {
    const exists = await deps.db('user').select('id').where({ email: input.email }).first();
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
    await deps.auth.api.sendVerificationEmail({ body: { email: input.email, callbackURL: '/account/verified' } });
  };
}
