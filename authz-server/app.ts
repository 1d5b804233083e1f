import type Koa from 'koa';
import type { Container } from '#shared/container.js';

/**
 * The authorization server's routes. The OpenID provider is mounted here by the
 * authorization-server work; until then the service answers its health endpoints and 404s.
 */
export function mountAuthzServer(_app: Koa, _container: Container): void {}
