import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { HttpBrowser } from '../helpers/http-browser.js';
import { startSystem, type Backend, type Service, type System } from '../helpers/system.js';
import { PG_SKIP_REASON, PG_URL } from '../helpers/services.js';
import { PASSWORD, REDIRECT, discover, signedInTokens, tokenRequest } from './oidc.flow.js';
import type { Container } from '#shared/container.js';

/**
 * The statements one refresh grant sends to the database (issue #19: six before), pinned so that
 * a lookup or a write added to the hot path fails here. oidc-provider asks for the client, the
 * token, its grant and its account, then consumes the token and stores the successor: we read
 * all four in one SELECT, and consume + insert in one conditional write.
 */
const EXPECTED: Record<Backend, string[]> = {
  // client + token + successor state + grant + account; consume + successor insert (one CTE)
  pg: ['select oauth_clients, oidc_models, user', 'with consumed as (update oidc_models'],
  // SQLite has no data-modifying CTE: the same write is a transaction on its one connection.
  sqlite: ['select oauth_clients, oidc_models, user', 'begin', 'update oidc_models', 'insert into oidc_models', 'commit'],
};

/** A statement as "select" and the tables it reads, or a write's verb and table. */
function shape(sql: string): string {
  const s = sql.replace(/["`]/g, '').toLowerCase().trim();
  if (s.startsWith('select ')) return `select ${[...new Set([...s.matchAll(/(?:from|join) (\w+)/g)].map((m) => m[1]))].join(', ')}`;
  const write = /^(with \w+ as \((?:update|insert into|delete from)|update|insert into|delete from) (\w+)/.exec(s);
  return write ? `${write[1]} ${write[2]}` : s.replace(/;$/, '');
}

function suite(backend: Backend) {
  describe(`refresh grant: statements per request (${backend})`, function () {
    this.timeout(90_000);
    let env: System;
    let server: Service;
    let container: Container;

    before(async () => {
      env = await startSystem({ backend }); // hosted here: its database's query events are watched
      server = env.authz[0]!;
      container = await server.container();
      await env.createClient({ clientId: 'agent', name: 'Agent', type: 'public', redirectUris: [REDIRECT], scopes: ['openid', 'offline_access', 'listings:read'] });
      await env.createUser({ email: 'alice@example.com', password: PASSWORD });
    });
    after(async () => {
      await env?.close();
    });

    /** One refresh grant; the statements sent from the request until the answer has settled. */
    async function refreshCounting(refreshToken: string) {
      const sent: string[] = [];
      const listener = (q: { sql: string }) => sent.push(q.sql);
      container.db.on('query', listener);
      try {
        const res = await tokenRequest(server.url, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: 'agent' });
        await sleep(150); // anything written off the request path (audit, client use) counts too
        return { res, sent: sent.map(shape) };
      } finally {
        container.db.off('query', listener);
      }
    }

    it(`a refresh grant for the API (JWT access token, ID token, rotation) sends ${EXPECTED[backend].length} statements`, async () => {
      const config = await discover(server.url, 'agent');
      const tokens = await signedInTokens(config, new HttpBrowser(), { scope: 'openid offline_access listings:read' });
      // The first refresh may record the client's use (at most hourly, registration.ts): not the hot path.
      const warm = await refreshCounting(tokens.refresh_token!);
      expect(warm.res.status).to.equal(200);
      let token = warm.res.body.refresh_token as string;
      for (let i = 0; i < 2; i++) {
        const { res, sent } = await refreshCounting(token);
        expect(res.status, JSON.stringify(res.body)).to.equal(200);
        expect(res.body).to.include.keys('access_token', 'id_token', 'refresh_token');
        expect(sent, `refresh ${i}`).to.deep.equal(EXPECTED[backend]);
        token = res.body.refresh_token as string;
      }
    });
  });
}

if (PG_URL) suite('pg');
else describe.skip(`refresh grant: statements per request (pg) — skipped: ${PG_SKIP_REASON}`, () => it('runs on PostgreSQL'));
suite('sqlite');
