import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { signedEvent } from '../helpers/fake-stripe.js';
import { freePort, runNode, SOURCE_FLAGS } from '../helpers/process.js';
import { WEBHOOK_SECRET, errorOf, sharedStack, type Stack } from './stack.js';

/**
 * Threat: a forged Stripe webhook granting a purchase nobody paid for (security page: "Forge
 * a Stripe webhook"; "absent secret = silent failure to verify = open door"). Delivered to the
 * resource-api process exactly as Stripe would, with every way a signature can be wrong.
 * Feature-level cases (re-serialized JSON, no secret in development) are in
 * test/resource-api/billing/webhook.security.test.ts.
 */
describe('security: forged Stripe webhook', function () {
  this.timeout(60_000);
  let s: Stack;
  let buyer: string;
  let listing: string;

  before(async () => {
    s = await sharedStack();
    buyer = await s.user('webhook-buyer@example.com');
    listing = await s.listing(10);
  });

  async function nothingGranted(eventId: string): Promise<void> {
    expect(await s.count('stripe_events', { id: eventId }), 'stripe_events row').to.equal(0);
    expect(await s.count('entitlements', { user_id: buyer }), 'entitlements').to.equal(0);
  }

  it('refuses an unsigned event with 400 WEBHOOK_SIGNATURE_INVALID and grants nothing', async () => {
    const event = s.purchase(buyer, listing);
    expect(errorOf(await s.deliver(event, { signature: null }))).to.deep.equal([400, 'WEBHOOK_SIGNATURE_INVALID']);
    expect(errorOf(await s.deliver(event, { signature: '' }))).to.deep.equal([400, 'WEBHOOK_SIGNATURE_INVALID']);
    await nothingGranted(event.id as string);
  });

  it('refuses an event signed with another secret, or with a made-up MAC', async () => {
    const event = s.purchase(buyer, listing);
    expect(errorOf(await s.deliver(event, { secret: 'whsec_an_attacker_guess' }))).to.deep.equal([400, 'WEBHOOK_SIGNATURE_INVALID']);
    const t = Math.floor(Date.now() / 1000);
    expect(errorOf(await s.deliver(event, { signature: `t=${t},v1=${'a'.repeat(64)}` }))).to.deep.equal([400, 'WEBHOOK_SIGNATURE_INVALID']);
    expect(errorOf(await s.deliver(event, { signature: `t=${t},v0=${'a'.repeat(64)}` }))).to.deep.equal([400, 'WEBHOOK_SIGNATURE_INVALID']);
    await nothingGranted(event.id as string);
  });

  it('refuses a genuinely signed delivery replayed after the 5-minute tolerance', async () => {
    const event = s.purchase(buyer, listing);
    const old = Math.floor(Date.now() / 1000) - 301;
    expect(errorOf(await s.deliver(event, { timestamp: old }))).to.deep.equal([400, 'WEBHOOK_SIGNATURE_INVALID']);
    await nothingGranted(event.id as string);
  });

  it('refuses a genuine signature dated beyond the tolerance in the future (it would stretch the replay window)', async () => {
    const event = s.purchase(buyer, listing);
    const ahead = Math.floor(Date.now() / 1000) + 301;
    expect(errorOf(await s.deliver(event, { timestamp: ahead }))).to.deep.equal([400, 'WEBHOOK_SIGNATURE_INVALID']);
    // A harmless t= in front must not hide the future one from the check (the SDK reads the last t=).
    const { signature } = signedEvent(WEBHOOK_SECRET, event, { timestamp: Math.floor(Date.now() / 1000) + 3600 });
    expect(errorOf(await s.deliver(event, { signature: `t=${Math.floor(Date.now() / 1000)},${signature}` }))).to.deep.equal([400, 'WEBHOOK_SIGNATURE_INVALID']);
    await nothingGranted(event.id as string);
  });

  it('refuses a genuine signature over a tampered body (another buyer, another listing)', async () => {
    const event = s.purchase(buyer, listing);
    const { signature, payload } = signedEvent(WEBHOOK_SECRET, event);
    const tampered = payload.replace(`"listing_id":"${listing}"`, `"listing_id":"${listing.replace(/.$/, (c) => (c === '0' ? '1' : '0'))}"`);
    expect(tampered).not.to.equal(payload);
    expect(errorOf(await s.deliver(event, { signature, body: tampered }))).to.deep.equal([400, 'WEBHOOK_SIGNATURE_INVALID']);
    expect(errorOf(await s.deliver(event, { signature, body: `${payload} ` }))).to.deep.equal([400, 'WEBHOOK_SIGNATURE_INVALID']);
    await nothingGranted(event.id as string);
  });

  it('stores and applies the genuine delivery once; a replay inside the tolerance is a duplicate that grants nothing more', async () => {
    const event = s.purchase(buyer, listing);
    const { signature, payload } = signedEvent(WEBHOOK_SECRET, event);
    const first = await s.deliver(event, { signature, body: payload });
    expect([first.status, first.body]).to.deep.equal([200, { received: true, outcome: 'queued' }]);
    expect(await s.count('stripe_events', { id: event.id as string, status: 'processed' })).to.equal(1);
    const replay = await s.deliver(event, { signature, body: payload });
    expect([replay.status, replay.body]).to.deep.equal([200, { received: true, outcome: 'duplicate' }]);
    expect(await s.count('entitlements', { user_id: buyer })).to.equal(1);
  });

  describe('in production', () => {
    async function productionEnv(): Promise<Record<string, string>> {
      const dev = JSON.parse(await readFile(path.join(s.env.env.DATA_DIR!, 'dev-secrets.json'), 'utf8')) as Record<string, string>;
      return {
        NODE_ENV: 'production',
        DATA_DIR: s.env.env.DATA_DIR!,
        API_PORT: String(await freePort()),
        ISSUER_URL: 'https://login.portcullis.test',
        API_AUDIENCE: 'https://api.portcullis.test',
        // Never contacted: the configuration is refused before any connection.
        DATABASE_URL: 'postgres://portcullis@127.0.0.1:1/none',
        DB_ACQUIRE_TIMEOUT_MS: '500',
        AUTH_SECRET: dev.AUTH_SECRET!,
        COOKIE_KEYS: dev.COOKIE_KEYS!,
        SIGNING_KEYS: dev.SIGNING_KEYS!,
        STRIPE_SECRET_KEY: 'sk_live_security_suite_key',
        LOG_LEVEL: 'info',
      };
    }

    it('the resource API refuses to start with a Stripe key but no webhook secret, naming only that setting', async () => {
      const proc = runNode([...SOURCE_FLAGS, 'resource-api/main.ts'], await productionEnv());
      // Bounded either way: a process that starts instead of refusing fails the test at once.
      const outcome = await Promise.race([proc.exited.then((code) => `exit ${code}`), proc.waitFor(/listening/, 30_000).then(() => 'listening', () => 'no exit')]);
      await proc.stop(2000);
      const out = proc.output();
      expect(outcome, out).to.equal('exit 1');
      expect(out).to.contain('STRIPE_WEBHOOK_SECRET: is required in production when STRIPE_SECRET_KEY is set');
      expect(out).not.to.match(/AUTH_SECRET|COOKIE_KEYS|SIGNING_KEYS|DATABASE_URL|ISSUER_URL/);
      expect(out).not.to.contain('listening');
    });
  });
});
