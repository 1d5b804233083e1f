import type Provider from 'oidc-provider';
import type { Container } from '#shared/container.js';
import type { AuthzLimits } from '../rate-limits.js';

/** What the interaction's forms are built from. */
export interface InteractionDeps {
  provider: Provider;
  c: Pick<Container, 'auth' | 'config' | 'audit' | 'db' | 'storageFailures'>;
  limits: AuthzLimits;
}
