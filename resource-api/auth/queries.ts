import type { Knex } from 'knex';

/**
 * Whether a client acting for itself (client_credentials) still exists, when the bus cannot say
 * it was deleted: its row in oauth_clients. A client ID metadata document client (an https URL)
 * is never stored, so it cannot have been deleted.
 */
export async function clientStillRegistered(db: Knex, clientId: string): Promise<boolean> {
  if (clientId.startsWith('https://')) return true;
  return Boolean(await db('oauth_clients').select('client_id').where({ client_id: clientId }).first());
}
