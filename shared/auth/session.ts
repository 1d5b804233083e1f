import { fromNodeHeaders } from 'better-auth/node';
import type { IncomingHttpHeaders } from 'node:http';
import type { Config } from '../config/types.js';
import type { Auth } from './better-auth.js';

type Session = NonNullable<Awaited<ReturnType<Auth['api']['getSession']>>>;

/**
 * The signed-in session behind a request's cookie, or null. better-auth gives sliding (idle)
 * expiry; the absolute lifetime (SESSION_TTL_S since sign-in) is enforced here: an older
 * session is revoked and treated as absent, however active it has been.
 */
export async function currentSession(auth: Auth, config: Config, headers: IncomingHttpHeaders): Promise<Session | null> {
  const h = fromNodeHeaders(headers);
  const session = await auth.api.getSession({ headers: h });
  if (!session) return null;
  const age = Date.now() - new Date(session.session.createdAt).getTime();
  if (age <= config.session.ttlS * 1000) return session;
  await auth.api.revokeSession({ headers: h, body: { token: session.session.token } }).catch(() => undefined);
  return null;
}
