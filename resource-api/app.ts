import type Koa from 'koa';
import type { Container } from '#shared/container.js';

/**
 * The resource API's routes. Listings, reviews, billing and usage are mounted here by their
 * own work; until then the service answers its health endpoints and 404s.
 */
export function mountResourceApi(_app: Koa, _container: Container): void {}
