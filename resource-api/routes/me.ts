import { z } from 'zod';
import { defineRoute, type RouteContract } from '../http/contract.js';

const meView = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  role: z.enum(['user', 'publisher', 'admin']),
  authMethod: z.enum(['bearer', 'session']),
  clientId: z.string().nullable(),
  scopes: z.array(z.string()).nullable(),
});

/** GET /v1/me: who the caller is, as the API sees it (role from the database). */
export function meRoutes(): RouteContract[] {
  return [
    defineRoute({
      method: 'get', path: '/v1/me', summary: 'The caller: identity, current role, token scopes', tag: 'me', access: 'authenticated',
      response: meView, status: 200, errors: [401, 403],
      handler: async (_ctx, { principal: p }) => ({
        id: p!.userId, email: p!.email, name: p!.name, role: p!.role, authMethod: p!.method, clientId: p!.clientId, scopes: p!.scopes,
      }),
    }),
  ];
}
