import type { Knex } from 'knex';

/** SQL for OAuth clients; metadata is the oidc-provider client metadata as JSON. */
export interface ClientRow {
  clientId: string;
  metadata: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

const TABLE = 'oauth_clients';

function toRow(r: { client_id: string; metadata: string; created_at: number | string; updated_at: number | string }): ClientRow {
  return { clientId: r.client_id, metadata: JSON.parse(r.metadata), createdAt: Number(r.created_at), updatedAt: Number(r.updated_at) };
}

export async function findClient(db: Knex, clientId: string): Promise<ClientRow | undefined> {
  const r = await db(TABLE).where({ client_id: clientId }).first();
  return r ? toRow(r) : undefined;
}

export async function listClients(db: Knex): Promise<ClientRow[]> {
  return (await db(TABLE).orderBy('created_at', 'asc').orderBy('client_id', 'asc')).map(toRow);
}

export async function insertClient(db: Knex, clientId: string, metadata: Record<string, unknown>, now: number): Promise<void> {
  await db(TABLE).insert({ client_id: clientId, metadata: JSON.stringify(metadata), created_at: now, updated_at: now });
}

export async function updateClient(db: Knex, clientId: string, metadata: Record<string, unknown>, now: number): Promise<number> {
  return db(TABLE).where({ client_id: clientId }).update({ metadata: JSON.stringify(metadata), updated_at: now });
}

export async function deleteClient(db: Knex, clientId: string): Promise<number> {
  return db(TABLE).where({ client_id: clientId }).del();
}
