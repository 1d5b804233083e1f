import type { ApiFeature } from '../feature.js';
import { adminAuditRoutes } from './contracts.js';

/** /v1/admin/audit: the audit trail for operators (its queries are shared/audit's; its only error code, INVALID_CURSOR, is HttpErrors'). */
export const adminAuditFeature: ApiFeature = {
  name: 'admin-audit',
  contracts: ({ db }) => adminAuditRoutes(db),
};
