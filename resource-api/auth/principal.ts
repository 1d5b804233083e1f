import type { RoleName } from '#shared/auth/permissions.js';

/** Who is calling, as established by koa-auth. `scopes` is null for a session (no token). */
export interface Principal {
  method: 'bearer' | 'session';
  userId: string;
  email: string;
  name: string;
  role: RoleName;
  clientId: string | null;
  scopes: readonly string[] | null;
}

declare module 'koa' {
  interface DefaultState {
    principal?: Principal;
  }
}
