import { expect } from 'chai';
import { createDb, translateDbError, type Knex } from '#shared/db/index.js';
import { PG_SKIP_REASON, PG_URL, describeWithService } from '../../helpers/services.js';
import { silentLogger } from './fixtures/backends.js';

describeWithService('shared/db PostgreSQL session settings', PG_URL, PG_SKIP_REASON, (url) => {
  let db: Knex;
  before(() => {
    db = createDb(
      { client: 'pg', url, pool: { min: 0, max: 2 }, acquireTimeoutMs: 2000, statementTimeoutMs: 300, migrateOnStart: false },
      silentLogger,
    );
  });
  after(() => db.destroy());

  it('sets statement_timeout on every pooled session', async () => {
    const { rows } = (await db.raw('show statement_timeout')) as { rows: Array<{ statement_timeout: string }> };
    expect(rows).to.deep.equal([{ statement_timeout: '300ms' }]);
  });

  it('cancels a statement that runs past it (57014), which is not an outage and stays untranslated', async () => {
    const err = await db.raw('select pg_sleep(2)').then(
      () => expect.fail('expected a rejection'),
      (e: unknown) => e,
    );
    expect((err as { code?: string }).code).to.equal('57014');
    expect(translateDbError(err)).to.equal(err);
  });
});
