import Stripe from 'stripe';
import type { Config } from '#shared/config/index.js';

/**
 * The Stripe SDK client of this service, or undefined when STRIPE_SECRET_KEY is unset (billing
 * routes then answer 503). STRIPE_API_URL points it elsewhere (stripe-mock, tests on loopback).
 */
export function createStripeClient(config: Pick<Config, 'stripe'>): Stripe | undefined {
  const { secretKey, apiUrl } = config.stripe;
  if (!secretKey) return undefined;
  const target = apiUrl ? new URL(apiUrl) : undefined;
  return new Stripe(secretKey, {
    maxNetworkRetries: 2,
    timeout: 10_000,
    telemetry: false,
    ...(target
      ? {
          host: target.hostname,
          port: target.port || (target.protocol === 'https:' ? 443 : 80),
          protocol: target.protocol === 'https:' ? 'https' : 'http',
        }
      : {}),
  });
}

export type { Stripe };
