import { expect } from 'chai';
import { AppError, StorageErrors, appError } from '#shared/errors/index.js';
import { isUnavailable, translateDbError } from '#shared/db/index.js';

/** Driver errors as pg and better-sqlite3 shape them, built by hand for the cases a live database cannot easily produce. */
function driverError(message: string, fields: Record<string, unknown>): Error {
  return Object.assign(new Error(message), fields);
}

function codeOf(err: unknown): string | undefined {
  return err instanceof AppError ? `${err.status} ${err.code}` : undefined;
}

describe('shared/db translateDbError', () => {
  it('maps the PG constraint classes and copies names, never the detail with values', () => {
    const detail = 'Key (email)=(alice@example.com) already exists.';
    const cases = { '23505': '409 UNIQUE_VIOLATION', '23503': '409 FOREIGN_KEY_VIOLATION', '23502': '400 NOT_NULL_VIOLATION', '23514': '400 CHECK_VIOLATION' };
    for (const [code, expected] of Object.entries(cases)) {
      const raw = driverError('violation', { code, detail, constraint: 'c', table: 't', column: 'col', schema: 'public' });
      const err = translateDbError(raw) as AppError;
      expect(codeOf(err), code).to.equal(expected);
      expect(err.data).to.deep.equal({ constraint: 'c', table: 't', column: 'col' });
      expect(err.cause).to.equal(raw);
    }
  });

  it('maps the SQLite extended constraint codes and parses names from the message', () => {
    const cases: Array<[string, string, string, Record<string, string>]> = [
      ['SQLITE_CONSTRAINT_UNIQUE', 'insert into `a` (`e`) values (?) - UNIQUE constraint failed: a.e', '409 UNIQUE_VIOLATION', { table: 'a', column: 'e' }],
      ['SQLITE_CONSTRAINT_UNIQUE', 'UNIQUE constraint failed: a.x, a.y', '409 UNIQUE_VIOLATION', { table: 'a', column: 'x,y' }],
      ['SQLITE_CONSTRAINT_PRIMARYKEY', 'UNIQUE constraint failed: a.id', '409 UNIQUE_VIOLATION', { table: 'a', column: 'id' }],
      ['SQLITE_CONSTRAINT_FOREIGNKEY', 'FOREIGN KEY constraint failed', '409 FOREIGN_KEY_VIOLATION', {}],
      ['SQLITE_CONSTRAINT_NOTNULL', 'NOT NULL constraint failed: a.title', '400 NOT_NULL_VIOLATION', { table: 'a', column: 'title' }],
      ['SQLITE_CONSTRAINT_CHECK', 'CHECK constraint failed: price_ok', '400 CHECK_VIOLATION', { constraint: 'price_ok' }],
    ];
    for (const [code, message, expected, data] of cases) {
      const err = translateDbError(driverError(message, { code })) as AppError;
      expect(codeOf(err), message).to.equal(expected);
      expect(err.data, message).to.deep.equal(data);
    }
  });

  it('maps connection failures to 503 DATABASE_UNAVAILABLE', () => {
    const failures = [
      ...['ECONNREFUSED', 'ETIMEDOUT', 'ENOTFOUND', 'ECONNRESET', '57P01', '57P03', '08006', '08001', '08003'].map((code) => driverError('x', { code })),
      driverError('Connection terminated unexpectedly', {}),
      driverError('Connection terminated due to connection timeout', {}),
      Object.assign(new Error('Knex: Timeout acquiring a connection. The pool is probably full.'), { name: 'KnexTimeoutError' }),
      new AggregateError([driverError('a', { code: 'ECONNREFUSED' }), driverError('b', { code: 'ECONNREFUSED' })], ''),
    ];
    for (const raw of failures) {
      expect(codeOf(translateDbError(raw)), raw.message).to.equal('503 DATABASE_UNAVAILABLE');
      expect(isUnavailable(raw)).to.equal(true);
    }
  });

  it('returns anything else unchanged, including a query timeout and a translated error', () => {
    const untouched = [
      Object.assign(new Error('Defined query timeout of 100ms exceeded when running query.'), { name: 'KnexTimeoutError' }),
      driverError('syntax error', { code: '42601' }),
      driverError('SQLITE_ERROR: no such table', { code: 'SQLITE_ERROR' }),
      appError(StorageErrors, 'UNIQUE_VIOLATION'),
      'a string',
      undefined,
    ];
    for (const raw of untouched) expect(translateDbError(raw)).to.equal(raw);
    expect(isUnavailable(driverError('x', { code: '23505' }))).to.equal(false);
  });
});
