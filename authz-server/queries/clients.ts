import type { Knex } from 'knex';
import { revokeGrant } from './oidc-models.js';

/** SQL for OAuth clients; metadata is the oidc-provider client metadata as JSON. */
export type ClientSource = 'admin' | 'dynamic';

export interface ClientRow {
  clientId: string;
  metadata: Record<string, unknown>;
  /** `admin`: created by an operator (CLI); `dynamic`: registered itself (RFC 7591). */
  source: ClientSource;
  createdAt: number;
  updatedAt: number;
  /** Last authorization or token grant, for dynamic clients (written at most hourly); else null. */
  lastUsedAt: number | null;
}

const TABLE = 'oauth_clients';
const MODELS = 'oidc_models';

interface Row {
  client_id: string;
  metadata: string;
  source: string;
  created_at: number | string;
  updated_at: number | string;
  last_used_at: number | string | null;
}

function toRow(r: Row): ClientRow {
  return {
    clientId: r.client_id,
    metadata: JSON.parse(r.metadata),
    source: r.source === 'dynamic' ? 'dynamic' : 'admin',
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
  };
}

export async function findClient(db: Knex, clientId: string): Promise<ClientRow | undefined> {
  const r = await db(TABLE).where({ client_id: clientId }).first();
  return r ? toRow(r) : undefined;
}

export async function listClients(db: Knex, source?: ClientSource): Promise<ClientRow[]> {
  const q = db(TABLE).orderBy('created_at', 'asc').orderBy('client_id', 'asc');
  if (source) q.where({ source });
  return (await q).map(toRow);
}

export async function insertClient(db: Knex, clientId: string, metadata: Record<string, unknown>, now: number): Promise<void> {
  await db(TABLE).insert({ client_id: clientId, metadata: JSON.stringify(metadata), created_at: now, updated_at: now });
}

/**
 * A self-registered client as oidc-provider writes it (RFC 7591 create, RFC 7592 update). An
 * update keeps the row's source and creation time.
 */
export async function upsertDynamicClient(db: Knex, clientId: string, metadata: Record<string, unknown>, now: number): Promise<void> {
  await db(TABLE)
    .insert({ client_id: clientId, metadata: JSON.stringify(metadata), source: 'dynamic', created_at: now, updated_at: now })
    .onConflict('client_id')
    .merge(['metadata', 'updated_at']);
}

export async function updateClient(db: Knex, clientId: string, metadata: Record<string, unknown>, now: number): Promise<number> {
  return db(TABLE).where({ client_id: clientId }).update({ metadata: JSON.stringify(metadata), updated_at: now });
}

export async function deleteClient(db: Knex, clientId: string): Promise<number> {
  return db(TABLE).where({ client_id: clientId }).del();
}

/**
 * Records that a dynamic client was used, unless that was recorded less than `minIntervalMs`
 * ago: one conditional UPDATE that writes nothing for admin clients or a recent use.
 */
export async function touchDynamicClient(db: Knex, clientId: string, now: number, minIntervalMs: number): Promise<number> {
  return db(TABLE)
    .where({ client_id: clientId, source: 'dynamic' })
    .andWhere((q) => q.whereNull('last_used_at').orWhere('last_used_at', '<', now - minIntervalMs))
    .update({ last_used_at: now });
}

/** Dynamic clients last used (or, never used, created) before `cutoff`. Admin clients never. */
export async function unusedDynamicClients(db: Knex, cutoff: number): Promise<string[]> {
  const rows = await db(TABLE)
    .select('client_id')
    .where({ source: 'dynamic' })
    .andWhere((q) => q.where('last_used_at', '<', cutoff).orWhere((q2) => q2.whereNull('last_used_at').andWhere('created_at', '<', cutoff)));
  return rows.map((r: { client_id: string }) => r.client_id);
}

/**
 * RFC 7592 §2.3: deleting a client ends what it holds. Its grants are revoked (tombstoned, so
 * their refresh and opaque access tokens die) and its registration access tokens deleted, then
 * the client row. oidc_models has no client column: rows are found by the `"clientId":"…"`
 * member of their JSON payload (LIKE with escaping), then confirmed by parsing it.
 * Returns whether a client row was deleted.
 */
export async function deleteClientAndGrants(db: Knex, clientId: string, tombstoneExpiresAt: number): Promise<boolean> {
  const pattern = `%${JSON.stringify({ clientId }).slice(1, -1).replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const rows: { model: string; id: string; payload: string }[] = await db(MODELS)
    .select('model', 'id', 'payload')
    .whereIn('model', ['Grant', 'RegistrationAccessToken'])
    .andWhereRaw("payload like ? escape '\\'", [pattern]);
  for (const row of rows) {
    if ((JSON.parse(row.payload) as { clientId?: unknown }).clientId !== clientId) continue;
    if (row.model === 'Grant') await revokeGrant(db, row.id, tombstoneExpiresAt);
    else await db(MODELS).where({ model: row.model, id: row.id }).del();
  }
  return (await deleteClient(db, clientId)) > 0;
}
