export { AUDIT_EVENTS, AUDIT_OUTCOMES, isAuditEventName, type AuditEventName, type AuditOutcome } from './catalog.js';
export { emailHash, redactProperties, truncateIp, type AuditProperties } from './redact.js';
export { createAudit, type Audit, type AuditInput, type AuditOptions, type AuditStats } from './audit.js';
export { startAuditPurgeJob, type PurgeJobOptions } from './purge-job.js';
export { fromRequest } from './koa.js';
export { listAudit, auditAfter, type AuditFilter } from './queries.js';
export type { AuditRow } from './table-sink.js';
