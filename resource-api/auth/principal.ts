import type { RoleName } from '#shared/auth/permissions.js';

/**
 * A person, as established by koa-auth: signed in with a session, or a client acting for them
 * with a bearer token. `scopes` is null for a session (no token).
 */
export interface Principal {
  kind: 'user';
  /** How the request authenticated: a bearer token, a DPoP-bound token with its proof, or a session. */
  method: 'bearer' | 'dpop' | 'session';
  userId: string;
  email: string;
  name: string;
  role: RoleName;
  clientId: string | null;
  scopes: readonly string[] | null;
}

/**
 * A client acting for itself: a client_credentials token, whose `sub` is its `client_id`
 * (RFC 9068 §2.2). It has no role and no person behind it, so it may call only the routes that
 * need none (contract access `public`); every other route answers 403 USER_TOKEN_REQUIRED.
 */
export interface ClientPrincipal {
  kind: 'client';
  method: 'bearer' | 'dpop';
  clientId: string;
  scopes: readonly string[];
}

export type Caller = Principal | ClientPrincipal;

/** The person behind a request, if there is one. */
export const personOf = (c: Caller | undefined): Principal | undefined => (c?.kind === 'user' ? c : undefined);

declare module 'koa' {
  interface DefaultState {
    principal?: Caller;
    /**
     * Set by koa-auth: every change published on the bus before this request began has been
     * applied in this process (AccessState.sync), so caches the bus invalidates may answer it.
     */
    changesApplied?: boolean;
  }
}
