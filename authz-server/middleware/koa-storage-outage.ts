import type { IncomingMessage } from 'node:http';
import type Koa from 'koa';
import type Provider from 'oidc-provider';
import type { Container } from '#shared/container.js';
import { pingDb, translateDbError } from '#shared/db/index.js';
import { StorageErrors, appError, isAppError } from '#shared/errors/index.js';
import { renderRefusal } from '../pages/message.js';
import { PageErrors } from '../pages/errors.js';
/** How long after a failed ping, or an outage better-auth saw, a 500 of its still counts as one. */
const OUTAGE_WINDOW_MS = 5000;

type Cause = 'unavailable' | 'character';

/**
 * The two libraries that answer a storage failure as a bare 500, told apart from a bug at the
 * authz-server's edge:
 *
 * - oidc-provider answers every unexpected error as 500 server_error, and names the cause only
 *   to its `server_error` event. A database outage is retryable: 503 with RFC 6749 §4.1.2.1's
 *   `temporarily_unavailable` and Retry-After; a parameter PostgreSQL cannot compare (a NUL in
 *   a client_id or token) is the client's: 400 `invalid_request`. JSON for the token,
 *   introspection and revocation endpoints; the message page for browsers.
 * - better-auth (under /api/auth) keeps the cause to itself. When the database does not answer a
 *   ping either, or did not a moment ago (a request caught by the restart itself), or
 *   better-auth's error hook just saw a connection failure (a killed session while the server is
 *   up: the container's `storageFailures`), the 500 is an outage: 503 DATABASE_UNAVAILABLE. Only
 *   where the answer goes through Koa (the JSON sign-in); other better-auth endpoints write to
 *   the socket themselves.
 */
export function koaStorageOutage(provider: Provider, c: Pick<Container, 'db' | 'storageFailures'>): Koa.Middleware {
  const causes = new WeakMap<IncomingMessage, Cause>();
  provider.on('server_error', (ctx, err) => {
    const storage = translateDbError(err);
    if (!isAppError(storage)) return;
    if (storage.code === 'DATABASE_UNAVAILABLE') causes.set(ctx.req, 'unavailable');
    if (storage.code === 'UNSUPPORTED_CHARACTER') causes.set(ctx.req, 'character');
  });
  let lastDownAt = 0;

  async function betterAuthOutage(): Promise<void> {
    const down = await pingDb(c.db, 1000).then(() => false, () => true);
    if (down) lastDownAt = Date.now();
    if (down || Date.now() - lastDownAt < OUTAGE_WINDOW_MS || c.storageFailures.within(OUTAGE_WINDOW_MS)) throw appError(StorageErrors, 'DATABASE_UNAVAILABLE');
  }

  return async (ctx, next) => {
    await next();
    if (ctx.status !== 500) return;
    if (ctx.path.startsWith('/api/auth/')) {
      if (ctx.respond !== false) await betterAuthOutage();
      return;
    }
    const cause = causes.get(ctx.req);
    if (cause) providerAnswer(ctx, cause);
  };
}

function providerAnswer(ctx: Koa.Context, cause: Cause): void {
  const page = cause === 'character' ? PageErrors.PARAMETER_NOT_ALLOWED : PageErrors.SERVICE_UNAVAILABLE;
  if (cause === 'unavailable') ctx.set('Retry-After', '1');
  if (ctx.accepts('json', 'html') === 'html') return renderRefusal(ctx, page);
  ctx.status = page.status;
  ctx.body = { error: cause === 'character' ? 'invalid_request' : 'temporarily_unavailable', error_description: page.message };
}
