/**
 * Baseline for the token endpoint: oidc-provider alone, with its own in-memory adapter,
 * configured exactly like ours (authz-server/oidc/configuration.ts: same features, TTLs, keys,
 * resource indicators, rotation) except storage: static clients instead of the database, an
 * in-memory account instead of the users table, and no Koa stack of ours around it. The
 * adapter is oidc-provider's MemoryAdapter over its LRU, sized so that no seeded token is
 * evicted (the default store keeps only 1000 entries).
 *
 * With BENCH_STORAGE=pg it runs oidc-provider with our storage (knex adapter and account
 * lookup on DATABASE_URL) but still without our Koa stack: the difference between the three
 * (memory, this, the real authz-server) splits the cost into storage and everything else.
 *
 * Env: the services' env (same DATA_DIR → same keys), BENCH_PORT, BENCH_CLIENTS (JSON client
 * metadata), BENCH_ACCOUNT_ID, BENCH_SEED (refresh tokens to seed), BENCH_TOKENS_FILE (written
 * with the seeded tokens before listening), BENCH_STORAGE (memory | pg).
 */
import http from 'node:http';
import { writeFile } from 'node:fs/promises';
import Provider, { type ClientMetadata, type Configuration } from 'oidc-provider';
import { loadConfig } from '#shared/config/index.js';
import { createDb } from '#shared/db/index.js';
import { providerConfiguration } from '#authz/oidc/configuration.js';
import { ROLE_CLAIM } from '#authz/oidc/account.js';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';
import { seedRefreshTokens } from '../lib/tokens.js';

const { config } = await loadConfig(process.env);
const accountId = process.env.BENCH_ACCOUNT_ID!;
const clients = JSON.parse(process.env.BENCH_CLIENTS!) as ClientMetadata[];

const pgStorage = process.env.BENCH_STORAGE === 'pg';
const ours = providerConfiguration(config, pgStorage ? createDb(config.db) : (null as never), null as never) // no interactions here: refresh grants only;
const { adapter: _ignored, ...rest } = ours;
const configuration: Configuration = pgStorage ? ours : {
  ...rest,
  adapter: ((store) => (model: string) => new MemoryAdapter(model, store))(new LRU({ maxSize: 1_000_000 })) as unknown as Configuration['adapter'],
  clients,
  findAccount: async (_ctx, sub) =>
    sub === accountId
      ? { accountId: sub, claims: async () => ({ sub, email: 'bench@example.com', email_verified: true, name: 'Bench', [ROLE_CLAIM]: 'user' }) }
      : undefined,
};
const provider = new Provider(config.authz.issuer, configuration);
const agentId = clients.find((c) => c.token_endpoint_auth_method === 'none')?.client_id ?? 'bench-agent';
const tokens = await seedRefreshTokens(provider, { clientId: agentId, accountId, audience: config.api.audience, n: Number(process.env.BENCH_SEED ?? 0) });
await writeFile(process.env.BENCH_TOKENS_FILE!, JSON.stringify(tokens));
const server = http.createServer(provider.callback());
server.listen(Number(process.env.BENCH_PORT), '127.0.0.1', () => process.stdout.write('bare-provider listening\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
