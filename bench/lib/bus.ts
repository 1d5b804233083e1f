import { Redis } from 'ioredis';
import { busKeys } from '#shared/bus/redis-keys.js';

/**
 * A fresh Redis knows no revocation older than its first use (`{bus}:since`, set by the first
 * API replica): a token issued before that, or within the API's clock margin after it, is judged
 * by the database on every request. A long-running deployment is past that; so is the bench once
 * this returns — tokens minted afterwards are judged from memory, as in production.
 */
export async function waitPastBusStart(redisUrl: string, keyPrefix: string, marginMs = 7_000): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    const since = Number(await redis.get(busKeys(keyPrefix).since));
    if (!since) throw new Error('no API replica has joined the change bus yet');
    const wait = since + marginMs - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  } finally {
    await redis.quit();
  }
}
