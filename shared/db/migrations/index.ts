import type { Migration } from '../migrator.js';
import { oidc } from './0001_oidc.js';
import { accounts } from './0002_accounts.js';
import { marketplace } from './0003_marketplace.js';
import { oidcAccounts } from './0004_oidc_accounts.js';
import { twoFactor } from './0005_two_factor.js';
import { billing } from './0006_billing.js';
import { audit } from './0007_audit.js';
import { oidcSessionBindings } from './0008_oidc_session_bindings.js';
import { dynamicClients } from './0009_dynamic_clients.js';
import { canonicalClientReqIds } from './0010_canonical_client_req_ids.js';
import { refreshSuccessors } from './0011_refresh_successors.js';
import { stripeEventQueue } from './0012_stripe_event_queue.js';

/**
 * Every migration of Portcullis, in the order it runs. Append only: never rename, reorder or
 * edit one that has shipped (knex refuses to run when an applied name is missing from the list).
 * Names are `NNNN_snake_case` without a file extension, so the compiled build and the sources
 * record the same names in `knex_migrations`.
 */
export const migrations: readonly Migration[] = [oidc, accounts, marketplace, oidcAccounts, twoFactor, billing, audit, oidcSessionBindings, dynamicClients, canonicalClientReqIds, refreshSuccessors, stripeEventQueue];
