import type { Knex } from 'knex';
import type Provider from 'oidc-provider';
import type { Config } from '#shared/config/index.js';
import type { Container } from '#shared/container.js';

/** RFC 8628 device authorization grant: oidc-provider's `features.deviceFlow` (docs/oauth.md). */
export function deviceFlowFeature(_config: Config, _db: Knex) {
  return { enabled: false };
}

/** Audit (device.approved / device.denied) and metrics for the device flow. */
export function observeDeviceFlow(_provider: Provider, _c: Pick<Container, 'config' | 'db' | 'logger' | 'audit'>): void {}
