import type { Migration } from '../migrator.js';

/**
 * `usage_records.client_req_id` is compared in canonical (lower-case) form since the API
 * canonicalises the UUIDs it accepts; rows stored before then may be upper-case, and a retry in
 * canonical form would not find them (a second consumption instead of a replay). Each such row is
 * lower-cased — its stored answer too — unless its canonical form is already taken for the same
 * user (the pair the old comparison let through): then the non-canonical row stays as history,
 * which no request can match any more, and the canonical row keeps answering. Of several
 * spellings of one id without a canonical row, the earliest is lower-cased.
 */
export const canonicalClientReqIds: Migration = {
  name: '0010_canonical_client_req_ids',
  async up(knex) {
    await knex.transaction(async (trx) => {
      const rows: { id: string; user_id: string; client_req_id: string; result: string | null; created_at: number | string }[] = await trx('usage_records')
        .select('id', 'user_id', 'client_req_id', 'result', 'created_at')
        .whereRaw('client_req_id <> lower(client_req_id)')
        .orderBy([{ column: 'created_at', order: 'asc' }, { column: 'id', order: 'asc' }]);
      for (const row of rows) {
        const canonical = row.client_req_id.toLowerCase();
        const taken = await trx('usage_records').where({ user_id: row.user_id, client_req_id: canonical }).first('id');
        if (taken) continue;
        let result = row.result;
        if (result) {
          try {
            const answer = JSON.parse(result) as Record<string, unknown>;
            if (typeof answer.clientReqId === 'string') answer.clientReqId = answer.clientReqId.toLowerCase();
            result = JSON.stringify(answer);
          } catch {
            // an unreadable stored answer is left as it is
          }
        }
        await trx('usage_records').where({ id: row.id }).update({ client_req_id: canonical, result });
      }
    });
  },
  // Nothing to undo: the canonical spelling is the same id.
  async down() {},
};
