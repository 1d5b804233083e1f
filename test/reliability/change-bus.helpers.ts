import { Redis } from 'ioredis';
import { busKeys } from '#shared/bus/redis-keys.js';
import type { Service } from '../helpers/system.js';

/** What each API replica answers to GET /v1/me: `<status> <role>`, or `<status> <error code>`. */
export function meAt(apis: readonly Service[], headers: Record<string, string>): Promise<string[]> {
  return Promise.all(
    apis.map(async (api) => {
      const res = await fetch(`${api.url}/v1/me`, { headers });
      const body = (await res.json()) as { role?: string; error?: { code: string } };
      return `${res.status} ${body.error?.code ?? body.role}`;
    }),
  );
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Whether every replica follows the bus (its caches may answer): `bus_following` in /metrics. */
export async function following(apis: readonly Service[]): Promise<boolean> {
  const states = await Promise.all(apis.map(async (api) => /^bus_following(\{[^}]*\})? 1$/m.test(await (await fetch(`${api.url}/metrics`)).text())));
  return states.every(Boolean);
}

/**
 * As a Redis that has held the deny state for an hour: tokens minted from now on are judged from
 * the replicas' memory alone, so a test fails if the bus path is wrong even though the database
 * would have refused the token. Set before the replicas start (they keep an existing `since`).
 */
export async function longRunningBus(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl);
  await redis.set(busKeys(prefix).since, String(Date.now() - 3600_000));
  await redis.quit();
}

export async function dropKeys(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl);
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
}
