import Provider, { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '#shared/config/index.js';
import type { Container } from '#shared/container.js';
import { fromRequest, type Audit } from '#shared/audit/index.js';
import { agentPolicyProblem } from '../clients/agent-policy.js';
import { BlockedAddressError, type OutboundFetch } from './outbound-fetch.js';

/**
 * Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; what MCP clients
 * use): a `client_id` that is an https URL with a path names a JSON document the client hosts.
 * oidc-provider fetches it (lib/helpers/client_id_metadata_document.js): no redirects, 2.5 s,
 * at most 5 KiB, `client_id` inside must equal the URL, no shared-secret methods, https web
 * URIs, cached per Cache-Control within CACHE_BOUNDS_S. Portcullis adds: the fetch reaches public
 * addresses only (outbound-fetch.ts), the agent policy (clients/agent-policy.ts: public or
 * private_key_jwt with a same-origin jwks_uri, redirect URI kinds, grant types, scopes within
 * AGENT_SCOPES — a document without `scope` gets exactly those), and an audit event per fetch.
 * Every failure is `invalid_client` with a description; never a 500.
 */
export const CACHE_BOUNDS_S = { min: 60, max: 86_400 };

/** How many document URLs each of the sets below remembers (bounded: anyone can name a URL). */
const MAX_TRACKED = 1000;

export interface MetadataDocumentEvents {
  record(ctx: unknown, url: string, outcome: string, authMethod?: string): void;
}

/**
 * Documents that failed (unreachable, refused address, invalid, refused by policy), until when:
 * not fetched again before then. oidc-provider looks a failed client up a second time to render
 * its error; and nobody can make this server fetch a failing URL in a loop.
 */
export const FAILURE_BACKOFF_MS = 30_000;

const track = (set: Set<string>, id: string) => {
  if (set.size >= MAX_TRACKED) set.delete(set.values().next().value!);
  set.add(id);
};

/**
 * The feature's state, one per provider (not per module: two providers in one process, as the
 * hosted test services run them, keep theirs apart).
 */
function metadataDocumentState() {
  /** Failed documents and until when they are not fetched again (FAILURE_BACKOFF_MS). */
  const failed = new Map<string, number>();
  return {
    /** Set by `observe` once the container exists; a no-op until then. */
    sink: { record: () => undefined } as MetadataDocumentEvents,
    /** Documents allowed to be fetched whose fetch has not answered yet. */
    pending: new Set<string>(),
    /** Documents that arrived (200) and await a decision: the policy's, or a validation error. */
    fresh: new Set<string>(),
    failed,
    noteFailure(id: string): void {
      if (failed.size >= MAX_TRACKED) failed.delete(failed.keys().next().value!);
      failed.set(id, Date.now() + FAILURE_BACKOFF_MS);
    },
  };
}

export function clientIdMetadataFeature(config: Config) {
  const state = metadataDocumentState();
  const { pending, fresh, failed, noteFailure } = state;
  return {
    feature: {
      enabled: config.agents.metadataDocuments.enabled,
      // The draft this code was written against: an oidc-provider update that implements another
      // draft refuses to start until this is reviewed (instead of a notice at every start).
      ack: 'draft-02',
      async allowFetch(_ctx: KoaContextWithOIDC, clientId: string) {
        const until = failed.get(clientId);
        if (until !== undefined && until > Date.now()) {
          throw new errors.InvalidClient(`client_id metadata document failed recently; it is fetched again after ${Math.ceil((until - Date.now()) / 1000)} s`);
        }
        failed.delete(clientId);
        track(pending, clientId);
        return true;
      },
      async allowClient(ctx: KoaContextWithOIDC, client: { clientId: string; scope?: string; metadata(): Record<string, unknown> }) {
        const wasFetched = fresh.delete(client.clientId);
        const metadata = client.metadata();
        const problem = agentPolicyProblem(metadata, { kind: 'metadata-document', scopes: config.agents.scopes, clientIdUrl: client.clientId });
        if (wasFetched) state.sink.record(ctx, client.clientId, problem ? 'refused' : 'accepted', String(metadata.token_endpoint_auth_method ?? 'client_secret_basic'));
        if (problem) {
          if (wasFetched) noteFailure(client.clientId);
          throw new errors.InvalidClient(`client_id metadata document refused: ${problem}`);
        }
        // The agent policy's scope set for a document that names none (as registration does).
        if (!client.scope) client.scope = config.agents.scopes.join(' ');
        return true;
      },
      cacheDuration: CACHE_BOUNDS_S,
    },
    /** Wraps the outbound fetch: failures of a metadata document fetch are audited (host only). */
    fetch(base: OutboundFetch): OutboundFetch {
      return async (url, init) => {
        const id = String(url);
        if (!pending.delete(id)) return base(url, init);
        const ctx = Provider.ctx;
        let res: Response;
        try {
          res = await base(url, init);
        } catch (err) {
          noteFailure(id);
          state.sink.record(ctx, id, blocked(err) ? 'blocked_address' : 'unreachable');
          throw err;
        }
        if (res.status !== 200) {
          noteFailure(id);
          state.sink.record(ctx, id, `http_${res.status}`);
        } else track(fresh, id);
        return res;
      };
    },
    /** Audit for fetched documents, once the provider and the container exist (oidc/provider.ts). */
    observe(provider: Provider, c: Pick<Container, 'config' | 'logger' | 'audit'>): void {
      observeMetadataDocuments(provider, c, state);
    },
  };
}

export type MetadataDocuments = ReturnType<typeof clientIdMetadataFeature>;

function blocked(err: unknown): boolean {
  for (let e = err, i = 0; e && i < 5; e = (e as { cause?: unknown }).cause, i++) if (e instanceof BlockedAddressError) return true;
  return false;
}

/** Audit for fetched documents (client.metadata_fetched: the host, never the path or the document). */
function observeMetadataDocuments(provider: Provider, c: Pick<Container, 'config' | 'logger' | 'audit'>, state: ReturnType<typeof metadataDocumentState>): void {
  const log = c.logger.child({ component: 'client-metadata' });
  state.sink = {
    record(ctx, url, outcome, authMethod) {
      const host = URL.canParse(url) ? new URL(url).host : 'invalid';
      log.info({ host, outcome }, 'client metadata document');
      record(c.audit, ctx, host, outcome, authMethod);
    },
  };
  // oidc-provider answers a document it cannot accept (client_id mismatch, bad metadata) with
  // invalid_client_metadata, a registration error; at the authorization and token endpoints the
  // client is simply not identified: invalid_client, same description. A document that arrived
  // but failed before the policy ran (too large, not JSON, mismatch, shared-secret method…) is
  // still `fresh`: it is recorded and backed off here, before oidc-provider's error handler
  // looks the client up a second time.
  const Client = provider.Client as unknown as { find(id: string, ...rest: unknown[]): Promise<unknown> };
  const find = Client.find.bind(Client);
  Client.find = async (id, ...rest) => {
    try {
      return await find(id, ...rest);
    } catch (err) {
      if (typeof id !== 'string' || !id.startsWith('https://')) throw err;
      if (state.fresh.delete(id)) {
        state.noteFailure(id);
        state.sink.record(Provider.ctx, id, 'invalid_document');
      }
      if (err instanceof errors.InvalidClientMetadata) {
        throw new errors.InvalidClient(`client_id metadata document refused: ${err.error_description ?? err.message}`);
      }
      throw err;
    }
  };
}

function record(audit: Audit, ctx: unknown, host: string, outcome: string, authMethod?: string): void {
  const request = ctx && (ctx as { request?: unknown }).request ? fromRequest(ctx as never) : {};
  audit.record('client.metadata_fetched', {
    outcome: outcome === 'accepted' ? 'success' : outcome === 'refused' ? 'denied' : 'failure',
    actor: {},
    ...request,
    properties: { host, outcome, ...(authMethod ? { authMethod } : {}) },
  });
}
