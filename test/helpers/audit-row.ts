import { expect } from 'chai';

export type AuditRow = Record<string, unknown> & { properties: Record<string, unknown> };

/**
 * One `audit_log` row as a test compares it exactly: `id` (a UUID) and `created_at` (a time
 * after the epoch) are checked, then left out; `properties` is parsed from its stored JSON.
 */
export function auditRow(row: Record<string, unknown> | undefined): AuditRow {
  expect(row, 'audit row').to.not.equal(undefined);
  const { id, created_at, properties, ...rest } = row!;
  expect(id).to.match(/^[0-9a-f-]{36}$/);
  expect(Number(created_at)).to.be.above(0);
  return { ...rest, properties: JSON.parse(String(properties)) as Record<string, unknown> };
}
