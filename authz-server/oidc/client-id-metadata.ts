import type Provider from 'oidc-provider';
import type { Config } from '#shared/config/index.js';
import type { Container } from '#shared/container.js';

/** Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document), docs/agents.md. */
export function clientIdMetadataFeature(_config: Config) {
  return { enabled: false };
}

/** Audit for fetched documents (client.metadata_fetched). */
export function observeMetadataDocuments(_provider: Provider, _c: Pick<Container, 'config' | 'logger' | 'audit'>): void {}
