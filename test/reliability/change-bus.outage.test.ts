import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import * as oidc from 'openid-client';
import { busKeys } from '#shared/bus/redis-keys.js';
import { createRedisBus } from '#shared/bus/redis-bus.js';
import { startSystem, type System } from '../helpers/system.js';
import { HttpBrowser } from '../helpers/http-browser.js';
import { captureLogger } from '../helpers/log-capture.js';
import { PG_URL, REDIS_SKIP_REASON, REDIS_URL, describeWithService } from '../helpers/services.js';
import { discover, signedInTokens } from '../authz-server/oidc.flow.js';
import { TcpProxy } from '../shared/cache/tcp-proxy.js';
import { bearer, dropKeys, following, longRunningBus, meAt } from './change-bus.helpers.js';

const SCOPE = 'openid offline_access listings:read';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The change bus when Redis goes away (docs/operations.md, "When the bus fails"): two API
 * replicas reach Redis through their own TCP relay (`apiLink`), the authorization server and the
 * admin CLI through another (`serverLink`), so a test can cut Redis for everyone, or only for the
 * API replicas while changes go on being published. Whatever is cut, a replica never answers
 * from a cache the bus can no longer vouch for: it reads the database (the ban, the grant's
 * tombstone) until it has caught up — or, when the stream no longer holds what it missed, reset.
 */
describeWithService(`change bus: Redis cut, missed changes (${PG_URL ? 'pg' : 'sqlite'})`, REDIS_URL, REDIS_SKIP_REASON, (redisUrl) => {
  let r: System;
  let config: oidc.Configuration;
  let apiLink: TcpProxy;
  let serverLink: TcpProxy;
  const prefix = `portcullis:test-bus-outage:${randomBytes(6).toString('hex')}:`;
  const via = (proxy: TcpProxy) => {
    const u = new URL(redisUrl);
    u.host = `127.0.0.1:${proxy.port}`;
    return u.toString();
  };

  before(async function () {
    this.timeout(120_000);
    const target = new URL(redisUrl);
    apiLink = new TcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    serverLink = new TcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    await Promise.all([apiLink.start(), serverLink.start()]);
    await longRunningBus(redisUrl, prefix);
    r = await startSystem({
      hosting: 'process',
      logLevel: 'warn',
      backend: PG_URL ? 'pg' : 'sqlite', ...(PG_URL ? { pgUrl: PG_URL } : {}), redis: via(serverLink), authz: 1, api: 0,
      // Short timeouts: a cut connection is noticed quickly; the smallest stream, to trim it past a replica.
      env: { REDIS_KEY_PREFIX: prefix, REDIS_COMMAND_TIMEOUT_MS: '300', REDIS_CONNECT_TIMEOUT_MS: '300', BUS_STREAM_MAX_LENGTH: '1000' },
    });
    await Promise.all([r.startApi({ REDIS_URL: via(apiLink) }), r.startApi({ REDIS_URL: via(apiLink) })]);
    await r.seedClient();
    config = await discover(r.issuer, 'agent');
  });
  const cut = new Set<TcpProxy>();
  const stop = (link: TcpProxy) => (cut.add(link), link.stop());
  const restore = (link: TcpProxy) => (cut.delete(link) ? link.start() : Promise.resolve());
  afterEach(async () => {
    // Every case leaves Redis reachable.
    await Promise.all([restore(apiLink), restore(serverLink)]);
  });
  after(async () => {
    await r?.close();
    await Promise.all([apiLink?.stop(), serverLink?.stop()]);
    await dropKeys(redisUrl, prefix);
  });

  const both = (token: string) => meAt(r.api, bearer(token));
  const caughtUp = () => following(r.api);
  /** A reconnect is asynchronous by nature: polled, with a bound. */
  const eventuallyTrue = async (check: () => Promise<boolean>, withinMs = 20_000) => {
    const deadline = Date.now() + withinMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error('the replicas did not follow the bus again within the bound');
      await sleep(100);
    }
  };
  /** A person whose role and ban state both replicas have cached (they follow the bus). */
  const signedIn = async (role = 'user') => {
    await eventuallyTrue(caughtUp);
    const user = await r.seedUser(`outage-${randomUUID()}@example.com`, role);
    const tokens = await signedInTokens(config, new HttpBrowser(), { email: user.email, scope: SCOPE });
    expect(await both(tokens.access_token), 'primed').to.deep.equal([`200 ${role}`, `200 ${role}`]);
    return { ...user, tokens };
  };
  const cutAll = () => Promise.all([stop(apiLink), stop(serverLink)]);

  it('Redis stopped: a user banned meanwhile is refused on both replicas (the database says so); the CLI says the bus missed it', async () => {
    const u = await signedIn();
    await cutAll();
    const ban = await r.admin(['users:ban', u.email]);
    expect(ban.code).to.equal(1);
    expect(ban.output).to.contain('banned').and.to.contain('the change bus (Redis) did not take it').and.to.contain('Run the command again');
    expect(await both(u.tokens.access_token)).to.deep.equal(['403 ACCOUNT_DISABLED', '403 ACCOUNT_DISABLED']);
  });

  it('Redis stopped: a grant revoked meanwhile (RFC 7009) is refused on both replicas (its tombstone); the revocation itself succeeds', async () => {
    const u = await signedIn();
    await cutAll();
    await oidc.tokenRevocation(config, u.tokens.refresh_token!);
    expect(await both(u.tokens.access_token)).to.deep.equal(['401 INVALID_TOKEN', '401 INVALID_TOKEN']);
    expect(await caughtUp(), 'stale while Redis is gone').to.equal(false);
    // Back: the authz-server's retried announcement arrives; the replicas follow the bus again and
    // refuse the token from memory.
    await restore(serverLink);
    await restore(apiLink);
    await eventuallyTrue(caughtUp);
    expect(await both(u.tokens.access_token)).to.deep.equal(['401 INVALID_TOKEN', '401 INVALID_TOKEN']);
  });

  it('Redis stopped: a client deleted meanwhile — its own client_credentials token is refused on both replicas (its row is gone), and the authz-server that cached it issues no new one', async () => {
    await eventuallyTrue(caughtUp);
    const service = await r.createClient({ clientId: `outage-service-${randomUUID().slice(0, 8)}`, name: 'Service', type: 'confidential', redirectUris: ['https://service.example.com/cb'], scopes: ['openid', 'listings:read'], clientCredentials: true });
    const asService = await discover(r.issuer, service.clientId, oidc.ClientSecretBasic(service.clientSecret!), service.clientSecret!);
    const own = await oidc.clientCredentialsGrant(asService, { scope: 'listings:read' }); // the authz-server caches the client
    const listings = () => Promise.all(r.api.map(async (api) => (await fetch(`${api.url}/v1/listings`, { headers: bearer(own.access_token) })).status));
    expect(await listings()).to.deep.equal([200, 200]);
    await cutAll();
    const run = await r.admin(['clients:delete', service.clientId]);
    expect(run.code).to.equal(1);
    expect(await listings()).to.deep.equal([401, 401]);
    // The authz-server cannot hear the bus either: it reads the client from the database again.
    const again = await fetch(`${r.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${service.clientId}:${service.clientSecret}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'listings:read' }),
    });
    expect([again.status, ((await again.json()) as { error?: string }).error]).to.deep.equal([401, 'invalid_client']);
  });

  it('the replicas cut off while a role change is published: the database answers meanwhile; back, they catch up — never the cached role', async () => {
    const u = await signedIn('publisher');
    await stop(apiLink);
    const run = await r.admin(['users:set-role', u.email, 'user']);
    expect(run.code, run.output).to.equal(0);
    expect(await both(u.tokens.access_token)).to.deep.equal(['200 user', '200 user']);
    expect(await caughtUp(), 'stale while cut off').to.equal(false);
    await restore(apiLink);
    expect(await answersUntilFollowing(u.tokens.access_token)).to.deep.equal(['200 user']);
  });

  it('the replicas cut off while the stream is trimmed past them: back, they reset — never the cached role', async () => {
    const u = await signedIn('publisher');
    await stop(apiLink);
    const run = await r.admin(['users:set-role', u.email, 'admin']);
    expect(run.code, run.output).to.equal(0);
    // More changes than BUS_STREAM_MAX_LENGTH (1000): the role change is trimmed out of the stream.
    const filler = await createRedisBus({ redis: { backend: 'redis', url: redisUrl, keyPrefix: prefix, commandTimeoutMs: 1000, connectTimeoutMs: 1000 }, maxLength: 1000, denyWindowMs: 60_000, retryForMs: 60_000, logger: captureLogger().logger });
    for (let i = 0; i < 1300; i++) await filler.publish({ type: 'entitlements.changed', userId: `filler-${i}` });
    await filler.close();
    const redis = new Redis(redisUrl);
    const oldest = (await redis.xrange(busKeys(prefix).log, '-', '+', 'COUNT', 1))[0]![1];
    await redis.quit();
    expect(oldest[oldest.indexOf('change') + 1]).to.contain('filler');
    expect(await both(u.tokens.access_token)).to.deep.equal(['200 admin', '200 admin']);
    expect(await caughtUp(), 'stale while cut off').to.equal(false);
    await restore(apiLink);
    expect(await answersUntilFollowing(u.tokens.access_token)).to.deep.equal(['200 admin']);
  });

  /**
   * Every distinct answer of both replicas on the way back, stale or caught up, until they follow
   * the bus again and once more after (polled: a reconnect is asynchronous; bounded).
   */
  async function answersUntilFollowing(token: string): Promise<string[]> {
    const seen = new Set<string>();
    await eventuallyTrue(async () => {
      for (const a of await both(token)) seen.add(a);
      return caughtUp();
    });
    for (const a of await both(token)) seen.add(a);
    return [...seen];
  }
});
