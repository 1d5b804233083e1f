import { createAccessControl } from 'better-auth/plugins/access';
import { adminAc, defaultStatements } from 'better-auth/plugins/admin/access';

/**
 * The access-control statement shared by the authz-server (better-auth admin plugin) and the
 * resource API's guards: resources → actions. Roles are data, not code paths.
 */
export const statement = {
  ...defaultStatements,
  listing: ['read', 'create', 'update', 'delete', 'publish', 'suspend'],
  review: ['create', 'delete', 'moderate'],
  checkout: ['create'],
  usage: ['report', 'read'],
  audit: ['read'],
} as const;

export const ac = createAccessControl(statement);

const buyer = {
  listing: ['read'],
  review: ['create', 'delete'],
  checkout: ['create'],
  usage: ['report', 'read'],
} as const;

export const roles = {
  user: ac.newRole({ ...buyer }),
  publisher: ac.newRole({ ...buyer, listing: ['read', 'create', 'update', 'delete', 'publish'] }),
  admin: ac.newRole({
    ...adminAc.statements,
    listing: ['read', 'create', 'update', 'delete', 'publish', 'suspend'],
    review: ['create', 'delete', 'moderate'],
    checkout: ['create'],
    usage: ['report', 'read'],
    audit: ['read'],
  }),
};

export type RoleName = keyof typeof roles;
export const ROLE_NAMES = Object.keys(roles) as RoleName[];
export const DEFAULT_ROLE: RoleName = 'user';
