import type { Knex } from 'knex';
import type { AuthDeps } from '#shared/auth/better-auth.js';
import type { Config } from '#shared/config/index.js';
import type { Logger } from '#shared/logging/logger.js';
import type { Mail, Mailer } from '#shared/mail/mailer.js';
import type { Audit } from '#shared/audit/index.js';
import type { ChangeBus } from '#shared/bus/index.js';
import { revokeAccount, tombstoneTtlS } from '../queries/oidc-models.js';
import { endBoundSessions } from '../queries/session-bindings.js';
import type { StorageFailures } from '#shared/db/storage-failures.js';

/**
 * better-auth callbacks of the authz-server. Mail leaves off the request path (a slow SMTP
 * server must not make "this address exists" measurable); failures are logged.
 */
export function authzAuthDeps({ config, logger, db, mailer, audit, storageFailures, changes }: { config: Config; logger: Logger; db: Knex; mailer: Mailer; audit: Audit; storageFailures: StorageFailures; changes: ChangeBus }): AuthDeps {
  const send = (mail: Mail) => {
    void mailer.send(mail).catch((err: Error) => logger.error({ kind: mail.kind, err: { type: err.name, message: err.message } }, 'mail failed'));
  };
  return {
    sendVerificationEmail: async (to, url) => send(verificationMail(to, url)),
    sendResetPassword: async (to, url) =>
      send({ to, kind: 'reset-password', subject: 'Reset your password', text: `Someone asked to reset the password of your Portcullis account.\n\nChoose a new password (the link works once, for 30 minutes):\n${url}\n\nIf this was not you, ignore this message: your password stays as it is.` }),
    // A better-auth session that ends takes the OpenID sessions created from it along, with
    // the grants a logout revokes (oidc/session-binding.ts refuses them anyway: this is the
    // clean-up that makes it immediate and visible in storage).
    onSessionEnded: async (session) => {
      const grants = await endBoundSessions(db, [session.id], { includeOffline: false, tombstoneExpiresAt: Date.now() + tombstoneTtlS(config.tokens) * 1000 });
      // The change bus: those grants' access tokens are refused at every API replica.
      for (const grantId of grants) await changes.publish({ type: 'grant.revoked', grantId, at: Date.now() });
    },
    onPasswordReset: async (userId) => {
      await revokeAccount(db, userId, config.tokens);
      // Every token issued before now: also those of a grant created while the grants were revoked.
      await changes.publish({ type: 'user.sessions_revoked', userId, at: Date.now() });
    },
    // Profile, email, role or ban changed through better-auth: cached views of the person are stale.
    onUserChanged: async (user) => void (await changes.publish({ type: 'user.changed', userId: user.id })),
    // Fetch Request of better-auth's endpoint: no Koa context here, so the request id is not known.
    // Refusals (4xx APIErrors) are answers, not errors. For the rest: type and SQLSTATE only —
    // a driver message can quote the offending input.
    onError: (err) => {
      const e = err as { name?: string; code?: string; status?: string; statusCode?: number };
      if (typeof e?.statusCode === 'number' && e.statusCode < 500) return;
      const outage = storageFailures.note(err);
      logger.error({ component: 'better-auth', outage, err: { type: e?.name, code: e?.code ?? e?.status } }, 'better-auth error');
    },
    onEmailVerified: async (user, request) => {
      audit.record('user.email_verified', { outcome: 'success', actor: { userId: user.id }, userAgent: request?.headers.get('user-agent') ?? undefined, properties: { emailHash: user.email } });
    },
  };
}

export function verificationMail(to: string, url: string): Mail {
  return {
    to,
    kind: 'verify-email',
    subject: 'Confirm your email address',
    text: `Welcome to Portcullis.\n\nConfirm your email address to activate your account:\n${url}\n\nThe link is valid for 24 hours. If you did not sign up, ignore this message.`,
  };
}

export function existingAccountNotice(to: string, signInUrl: string, resetUrl: string): Mail {
  return {
    to,
    kind: 'sign-up-existing',
    subject: 'Someone tried to register with your email address',
    text: `Someone (maybe you) tried to create a Portcullis account with this address, which already has one.\n\nSign in: ${signInUrl}\nForgot your password? ${resetUrl}\n\nIf this was not you, you can ignore this message.`,
  };
}
