import type Provider from 'oidc-provider';
import type { Knex } from 'knex';
import type { Config } from '#shared/config/index.js';
import type { Container } from '#shared/container.js';

/** RFC 7591 / 7592 dynamic registration under the agent policy (docs/agents.md). */
export function registrationFeatures(_config: Config, _db: Knex) {
  return { registration: { enabled: false }, registrationManagement: { enabled: false } };
}

/** Audit and metrics for registrations (client.registered). */
export function observeRegistration(_provider: Provider, _c: Pick<Container, 'config' | 'db' | 'logger' | 'audit'>): void {}
