import { StorageErrors, appError, isAppError } from '../errors/index.js';

type StorageCode = keyof typeof StorageErrors;

/** The fields pg's DatabaseError and better-sqlite3's SqliteError may carry. */
interface DriverError {
  code?: unknown;
  name?: unknown;
  message?: unknown;
  constraint?: unknown;
  table?: unknown;
  column?: unknown;
  errors?: unknown;
}

// https://www.postgresql.org/docs/current/errcodes-appendix.html (class 23, and two of class 22).
const PG_CONSTRAINT: Record<string, StorageCode> = {
  '23505': 'UNIQUE_VIOLATION',
  '23503': 'FOREIGN_KEY_VIOLATION',
  '23502': 'NOT_NULL_VIOLATION',
  '23514': 'CHECK_VIOLATION',
  // Class 22: PostgreSQL text cannot hold U+0000 ("invalid byte sequence for encoding UTF8: 0x00"),
  // so a NUL in any compared or stored value fails the query. It is the client's input, not an outage.
  '22021': 'UNSUPPORTED_CHARACTER',
  '22P05': 'UNSUPPORTED_CHARACTER',
};

// https://sqlite.org/rescode.html#constraint_check and siblings (extended result codes).
const SQLITE_CONSTRAINT: Record<string, StorageCode> = {
  SQLITE_CONSTRAINT_UNIQUE: 'UNIQUE_VIOLATION',
  SQLITE_CONSTRAINT_PRIMARYKEY: 'UNIQUE_VIOLATION',
  SQLITE_CONSTRAINT_FOREIGNKEY: 'FOREIGN_KEY_VIOLATION',
  SQLITE_CONSTRAINT_NOTNULL: 'NOT_NULL_VIOLATION',
  SQLITE_CONSTRAINT_CHECK: 'CHECK_VIOLATION',
};

/**
 * Socket errors, and PG 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now,
 * 53300 too_many_connections. Class 08 (connection exception) is matched by prefix below.
 */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE',
  '57P01', '57P02', '57P03', '53300',
]);

/** pg's own messages for a socket that closed or never opened within connectionTimeoutMillis. */
const UNAVAILABLE_MESSAGE = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i;

/**
 * Maps a driver error to the storage catalog so callers (and the HTTP edge) see one vocabulary
 * whatever the backend. `data` carries names only: pg's `detail` and the values it quotes are
 * never copied. Anything unrecognised is returned unchanged, to be handled as a 500.
 */
export function translateDbError(err: unknown): unknown {
  if (isAppError(err) || typeof err !== 'object' || err === null) return err;
  const e = err as DriverError;
  const code = typeof e.code === 'string' ? e.code : undefined;

  if (code && PG_CONSTRAINT[code]) return appError(StorageErrors, PG_CONSTRAINT[code], { cause: err, data: pgNames(e) });
  if (code && SQLITE_CONSTRAINT[code]) {
    return appError(StorageErrors, SQLITE_CONSTRAINT[code], { cause: err, data: sqliteNames(e) });
  }
  if (isConnectionFailure(e)) return appError(StorageErrors, 'DATABASE_UNAVAILABLE', { cause: err });
  return err;
}

function isConnectionFailure(e: DriverError): boolean {
  const code = typeof e.code === 'string' ? e.code : '';
  if (UNAVAILABLE_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code)) return true;
  const message = typeof e.message === 'string' ? e.message : '';
  // knex's pool (tarn) gives up after acquireConnectionTimeout with this error; a query-level
  // `.timeout()` also raises KnexTimeoutError but is a slow query, not an outage.
  if (e.name === 'KnexTimeoutError') return message.startsWith('Knex: Timeout acquiring a connection');
  if (UNAVAILABLE_MESSAGE.test(message)) return true;
  // Node's happy-eyeballs connect reports one AggregateError for all addresses tried.
  const inner: unknown[] = Array.isArray(e.errors) ? e.errors : [];
  return inner.length > 0 && inner.every((i) => typeof i === 'object' && i !== null && isConnectionFailure(i as DriverError));
}

function pgNames(e: DriverError): Record<string, string> {
  const data: Record<string, string> = {};
  if (typeof e.constraint === 'string') data.constraint = e.constraint;
  if (typeof e.table === 'string') data.table = e.table;
  if (typeof e.column === 'string') data.column = e.column;
  return data;
}

/**
 * SQLite names the failing columns or constraint only in the message, e.g.
 * "UNIQUE constraint failed: users.email" or "CHECK constraint failed: price_positive"
 * (knex prefixes the SQL text, with placeholders rather than values). Foreign-key failures
 * name nothing (https://sqlite.org/foreignkeys.html).
 */
function sqliteNames(e: DriverError): Record<string, string> {
  const message = typeof e.message === 'string' ? e.message : '';
  const columns = /(?:UNIQUE|NOT NULL) constraint failed: ([\w$]+)\.([\w$]+(?:, [\w$]+\.[\w$]+)*)$/.exec(message);
  if (columns) {
    // A composite unique key lists every column: "t.a, t.b" → column "a,b".
    const names = columns[2]!.split(', ').map((c) => c.split('.').pop()!);
    return { table: columns[1]!, column: names.join(',') };
  }
  const check = /CHECK constraint failed: ([\w$]+)$/.exec(message);
  return check ? { constraint: check[1]! } : {};
}
