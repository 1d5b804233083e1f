import { expect } from 'chai';
import * as oidc from 'openid-client';
import { HttpBrowser, LOGIN_FORM } from '../helpers/http-browser.js';
import { authorize, discover } from '../authz-server/oidc.flow.js';
import { apiFixture, type ApiFixture } from './fixture.js';

const PLANTED_PASSWORD = 'planted-wrong-password-77';

describe('audit trail: security events recorded by the authz-server, read at GET /v1/admin/audit', function () {
  this.timeout(90_000);
  let f: ApiFixture;
  before(async () => {
    f = await apiFixture('sqlite');
    // A failed sign-in with a planted password, then the fixture's own successful ones.
    const config: oidc.Configuration = await discover(f.env.env.ISSUER_URL!, 'agent');
    const browser = new HttpBrowser();
    const { page } = await authorize(config, browser, { signIn: false, scope: 'openid' });
    await browser.submit(page, LOGIN_FORM, { email: 'alice@example.com', password: PLANTED_PASSWORD }, new URL(f.env.env.ISSUER_URL!).origin);
    await f.cookie('ada');
    await f.token('alice', 'listings:read');
  });
  after(() => f?.close());

  async function rows(event: string) {
    for (let i = 0; i < 100; i++) {
      const found = await f.env.db('audit_log').where({ event });
      if (found.length) return found;
      await new Promise((r) => setTimeout(r, 50));
    }
    return [];
  }

  it('records sign-in failures, successes and consent with actor, request facts and no secrets', async () => {
    const failed = await rows('sign_in.failed');
    expect(failed.length).to.be.greaterThan(0);
    expect(failed[0]).to.deep.include({ outcome: 'failure', actor_client_id: 'agent', actor_user_id: null });
    expect(failed[0].request_id).to.match(/^[0-9a-f-]{36}$/);
    expect(failed[0].ip_prefix).to.equal('127.0.0.0/24');
    const props = JSON.parse(failed[0].properties);
    expect(props.emailHash).to.match(/^emailhash:[0-9a-f]+$/);
    const succeeded = await rows('sign_in.succeeded');
    expect(succeeded.map((r: { actor_user_id: string }) => r.actor_user_id)).to.include.members([f.ids.alice, f.ids.ada]);
    expect((await rows('authorization.granted')).length).to.be.greaterThan(0);
    const everything = JSON.stringify(await f.env.db('audit_log').select('*'));
    expect(everything).not.to.contain(PLANTED_PASSWORD);
    expect(everything).not.to.contain('alice@example.com');
    expect(everything).not.to.contain('ada@example.com');
  });

  it('records marketplace events at the API edge: listing published and suspended', async () => {
    const created = await f.request('POST', '/v1/listings', { as: 'pat', body: { title: 'Audited agent', summary: 's', price: { type: 'one_time', currency: 'USD', amountMinor: 100 }, quota: { units: 1, period: 'once' } } });
    await f.request('POST', `/v1/listings/${created.body.id}/publish`, { as: 'pat' });
    await f.request('POST', `/v1/listings/${created.body.id}/suspend`, { as: 'ada', via: 'session' });
    const published = (await rows('listing.published')).find((r: { subject_id: string }) => r.subject_id === created.body.id);
    expect(published).to.deep.include({ outcome: 'success', actor_user_id: f.ids.pat, actor_client_id: 'agent', subject_type: 'listing' });
    const suspended = (await rows('listing.suspended')).find((r: { subject_id: string }) => r.subject_id === created.body.id);
    expect(suspended).to.deep.include({ outcome: 'success', actor_user_id: f.ids.ada, actor_client_id: null });
  });

  it('lets admins (session) read and filter the trail; nobody else', async () => {
    const all = await f.request('GET', '/v1/admin/audit?limit=200', { as: 'ada', via: 'session' });
    expect(all.status).to.equal(200);
    expect(all.body.items.map((i: { event: string }) => i.event)).to.include.members(['sign_in.failed', 'sign_in.succeeded', 'authorization.granted']);
    const failed = await f.request('GET', '/v1/admin/audit?event=sign_in.failed', { as: 'ada', via: 'session' });
    expect(failed.body.items.length).to.be.greaterThan(0);
    expect(new Set(failed.body.items.map((i: { event: string }) => i.event))).to.deep.equal(new Set(['sign_in.failed']));
    const mine = await f.request('GET', `/v1/admin/audit?actor=${f.ids.alice}`, { as: 'ada', via: 'session' });
    expect(mine.body.items.length).to.be.greaterThan(0);
    for (const i of mine.body.items) expect([i.actor.userId, i.actor.clientId]).to.include(f.ids.alice);
    const future = await f.request('GET', `/v1/admin/audit?from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`, { as: 'ada', via: 'session' });
    expect(future.body).to.deep.equal({ items: [], nextCursor: null });
    const page1 = await f.request('GET', '/v1/admin/audit?limit=1', { as: 'ada', via: 'session' });
    const page2 = await f.request('GET', `/v1/admin/audit?limit=1&cursor=${page1.body.nextCursor}`, { as: 'ada', via: 'session' });
    expect(page2.body.items[0].id).not.to.equal(page1.body.items[0].id);

    expect((await f.request('GET', '/v1/admin/audit', { as: 'pat', via: 'session' })).body.error.code).to.equal('FORBIDDEN');
    expect((await f.request('GET', '/v1/admin/audit', { as: 'ada' })).body.error.code).to.equal('INSUFFICIENT_SCOPE');
    expect((await f.request('GET', '/v1/admin/audit?event=not.an_event', { as: 'ada', via: 'session' })).body.error.code).to.equal('VALIDATION_FAILED');
  });
});
