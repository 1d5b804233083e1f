import { z } from 'zod';
import type { Knex } from 'knex';
import type { BusCache } from '#shared/bus/bus-cache.js';
import { defineRoute, type RouteContract } from '../../http/contract.js';
import { activeEntitlements } from '../billing/index.js';

type Entitlements = Awaited<ReturnType<typeof activeEntitlements>>;

const meView = z.object({
  id: z.string(),
  email: z.string(),
  name: z.string(),
  role: z.enum(['user', 'publisher', 'admin']),
  authMethod: z.enum(['bearer', 'dpop', 'session']),
  clientId: z.string().nullable(),
  scopes: z.array(z.string()).nullable(),
  entitlements: z.array(z.object({ listingId: z.string(), grantedAt: z.iso.datetime() })),
}).meta({ id: 'Me' });

/**
 * GET /v1/me: who the caller is, as the API sees it (role from the database). `entitlements`: a
 * per-process cache the change bus invalidates (`entitlements.changed`), used while the request
 * has every change applied (koa-auth's `changesApplied`); else the database.
 */
export function meRoutes(db: Knex, entitlements?: BusCache<Entitlements>): RouteContract[] {
  const entitlementsOf = (userId: string, applied: boolean) =>
    entitlements ? entitlements.get(userId, () => activeEntitlements(db, userId), applied).then((e) => e ?? []) : activeEntitlements(db, userId);
  return [
    defineRoute({
      method: 'get', path: '/v1/me', operationId: 'getMe', summary: 'The caller: identity, current role, token scopes', tag: 'me', access: 'authenticated',
      response: meView, status: 200, errors: [401, 403, 503],
      handler: async (ctx, { principal: p }) => ({
        id: p!.userId, email: p!.email, name: p!.name, role: p!.role, authMethod: p!.method, clientId: p!.clientId, scopes: p!.scopes,
        entitlements: (await entitlementsOf(p!.userId, ctx.state.changesApplied === true)).map((e) => ({ listingId: e.listing_id, grantedAt: new Date(Number(e.granted_at)).toISOString() })),
      }),
    }),
  ];
}
