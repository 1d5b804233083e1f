import type { Knex } from 'knex';
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import { consumeModel, destroyModel, findModel, grantIdOf, revokeGrant, upsertModel } from '../queries/oidc-models.js';
import { deleteClientAndGrants, findClient, upsertDynamicClient } from '../queries/clients.js';
import { clientOfRefreshGrant, presentRefreshToken, presented, refreshGrantRequest, rotateOnSave } from './refresh-rotation.js';
import { NO_CACHES, type ProviderCaches } from './caches.js';

export interface AdapterOptions {
  /** How long a revoked grant's tombstone is kept: at least the longest token lifetime. */
  tombstoneTtlS: number;
  /** REFRESH_RETRY_WINDOW_S: how long a rotated refresh token may be retried (0, the default: never). */
  refreshRetryWindowS?: number;
  /** Called when a concurrent consumption loses the race (audit, metrics). */
  onReuseRace?: (model: string, grantId: string | null) => void;
  /** The change bus: a grant was revoked here, its access tokens must be refused at every API replica. */
  onGrantRevoked?: (grantId: string) => Promise<void>;
  /** The change bus: a client was deleted (RFC 7592), with its grants and its own tokens. */
  onClientDeleted?: (clientId: string) => Promise<void>;
  /** The change bus: a client registered itself (RFC 7591) or changed its metadata (RFC 7592). */
  onClientChanged?: (clientId: string) => Promise<void>;
  /** Client metadata cached per process while the change bus vouches for it (oidc/caches.ts). */
  caches?: ProviderCaches;
  /** A rotated refresh token presented by another client than its own: the grant is revoked. */
  onOtherClientReplay?: (grantId: string | null, clientId: string) => void;
  /** A retry within the window: the successor `retired` was replaced before anyone used it. */
  onRefreshRetry?: (grantId: string | null, retired: string) => void;
}

/**
 * oidc-provider storage on knex (SQLite or PostgreSQL). The provider checks `consumed` and
 * then calls `consume()` separately; two concurrent redemptions of one code or refresh token
 * can both pass the check. `consume()` is therefore a conditional UPDATE that only one caller
 * wins; the loser is treated exactly like a reuse (RFC 9700 §4.14.2, §2.1.1): the whole grant
 * is revoked and the request fails with invalid_grant. A refresh grant's rotation is the same
 * conditional UPDATE, made in one statement with the successor's insert, and may be retried
 * within REFRESH_RETRY_WINDOW_S (oidc/refresh-rotation.ts, queries/refresh-rotation.ts).
 */
/**
 * The grant a row dies with. An Interaction only points at the grant it may extend: revoking
 * that grant (the logout oidc-provider runs before another account signs in, in the same
 * interaction) must not delete the interaction that is about to resume.
 */
function grantColumn(model: string, id: string, payload: AdapterPayload): string | null {
  if (model === 'Interaction') return null;
  return payload.grantId ?? (model === 'Grant' ? id : null);
}

export function createAdapterClass(db: Knex, opts: AdapterOptions) {
  const caches = opts.caches ?? NO_CACHES;
  return class KnexAdapter implements Adapter {
    constructor(readonly model: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      // oidc-provider writes a Client only for RFC 7591 registration and RFC 7592 update: it
      // joins the operator's clients in oauth_clients, marked dynamic (client_id is the key).
      if (this.model === 'Client') {
        const { client_id: _id, ...metadata } = payload as AdapterPayload & { client_id?: string };
        await upsertDynamicClient(db, id, metadata, Date.now());
        await opts.onClientChanged?.(id); // replicas that cached its old metadata drop it
        return;
      }
      const rotation = this.model === 'RefreshToken' ? presented(refreshGrantRequest()) : undefined;
      if (rotation?.rotating && rotation.id !== id) return rotateOnSave(db, opts, rotation, id, payload, expiresIn);
      await upsertModel(db, {
        model: this.model,
        id,
        payload: JSON.stringify(payload),
        grantId: grantColumn(this.model, id, payload),
        userCode: payload.userCode ?? null,
        uid: payload.uid ?? null,
        accountId: payload.accountId ?? null,
        expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : null,
      });
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.model === 'Client') {
        // A refresh grant reads the client in the same SELECT as the token; any other request
        // from this replica's cache while the change bus vouches for it, else one SELECT.
        const grantRequest = refreshGrantRequest();
        const withToken = grantRequest ? await clientOfRefreshGrant(db, grantRequest, id) : null;
        if (withToken !== null) return withToken;
        return caches.client(id, async () => {
          const client = await findClient(db, id);
          return client ? { ...client.metadata, client_id: client.clientId } : undefined;
        });
      }
      const ctx = refreshGrantRequest();
      if (ctx && this.model === 'RefreshToken') return presentRefreshToken(db, opts, ctx, id);
      const seen = this.model === 'Grant' ? presented(ctx) : undefined;
      if (seen && seen.grant.id === id) return seen.grant.payload ?? undefined;
      return this.read('id', id);
    }

    findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return this.read('uid', uid);
    }

    findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return this.read('user_code', userCode);
    }

    async consume(id: string): Promise<void> {
      const rotation = this.model === 'RefreshToken' ? presented(refreshGrantRequest()) : undefined;
      if (rotation?.id === id) {
        // oidc-provider saves the successor next: the conditional consume happens there, in
        // the same statement as the insert (rotate()).
        rotation.rotating = true;
        return;
      }
      if ((await consumeModel(db, this.model, id, Date.now())) === 1) return;
      const grantId = await grantIdOf(db, this.model, id);
      opts.onReuseRace?.(this.model, grantId);
      if (grantId) await revokeGrant(db, grantId, Date.now() + opts.tombstoneTtlS * 1000);
      if (grantId) await opts.onGrantRevoked?.(grantId);
      throw new errors.InvalidGrant(`${this.model === 'RefreshToken' ? 'refresh token' : 'grant'} already used`);
    }

    async destroy(id: string): Promise<void> {
      // RFC 7592 §2.3 (DELETE): the client goes, and with it its grants and tokens.
      if (this.model === 'Client') {
        await deleteClientAndGrants(db, id, Date.now() + opts.tombstoneTtlS * 1000);
        await opts.onClientDeleted?.(id);
        return;
      }
      await destroyModel(db, this.model, id);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await revokeGrant(db, grantId, Date.now() + opts.tombstoneTtlS * 1000);
      await opts.onGrantRevoked?.(grantId);
    }

    private async read(column: 'id' | 'uid' | 'user_code', value: string): Promise<AdapterPayload | undefined> {
      const row = await findModel(db, this.model, column, value, Date.now());
      if (!row) return undefined;
      const payload = JSON.parse(row.payload) as AdapterPayload;
      return row.consumed_at === null ? payload : { ...payload, consumed: Math.floor(Number(row.consumed_at) / 1000) };
    }
  };
}
