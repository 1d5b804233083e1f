import { expect } from 'chai';
import { FRONTEND, errorOf, sharedStack, type Stack } from './stack.js';

/**
 * Threat: an open redirect through the checkout's `returnUrl` (security page: "Attempted bypass
 * returns 422 INVALID_RETURN_URL"). Stripe would send the buyer to whatever success/cancel URL
 * we hand it, so a URL that escapes the allow-list must be refused before Stripe is called.
 * The full unit corpus is in test/resource-api/billing/return-url.test.ts; here the bypasses go
 * through the running API, both endpoints that take a returnUrl, with a real token.
 */
const BYPASSES: string[] = [
  'https://evil.example/',
  'https://app.example.com.evil.example/',
  'https://evilapp.example.com/',
  'https://sub.app.example.com/',
  'http://app.example.com/',
  'https://app.example.com:8443/',
  '//evil.example/',
  '///evil.example/',
  '/\\evil.example',
  '\\\\evil.example',
  'https:evil.example',
  'https:/evil.example',
  'https:///evil.example',
  'https:\\\\evil.example',
  'https://app.example.com\\@evil.example',
  'https://app.example.com@evil.example/',
  'https://user:pass@app.example.com/',
  'https://evil.example#@app.example.com',
  'https://evil.example?@app.example.com',
  'https://app.example.com%2f@evil.example',
  'https://app.example.com/%2f%2fevil.example',
  'https://app.example.com/%5cevil.example',
  'https://app.example.com/%252f%252fevil.example',
  'https://app.example.com//evil.example',
  'https://app.example.com/%0d%0aLocation:%20https://evil.example',
  'https://app.example.com/\r\nLocation: https://evil.example',
  ' https://app.example.com/',
  'https://app.example.com/\u0000',
  'https://аpp.example.com/',
  'https://app。example。com/',
  'javascript:alert(document.domain)//https://app.example.com',
  'data:text/html,<script>alert(1)</script>',
  'file:///etc/passwd',
  '/billing/done',
  'app.example.com/billing',
  'https://2130706433/',
  'http://127.0.0.1:3000/',
  'http://localhost.evil.example:3000/',
];

describe('security: open redirect via returnUrl', function () {
  this.timeout(60_000);
  let s: Stack;
  let token: string;
  let listing: string;

  before(async () => {
    s = await sharedStack();
    await s.user('redirect-buyer@example.com');
    token = (await s.tokens('redirect-buyer@example.com', 'openid checkout:create')).access_token;
    listing = await s.listing();
  });

  const checkout = (returnUrl: string) => s.api('POST', '/v1/checkout/sessions', { token, json: { listingId: listing, returnUrl } });

  it(`refuses each of ${BYPASSES.length} bypasses with 422 INVALID_RETURN_URL and never calls Stripe`, async () => {
    s.stripe.reset();
    const accepted: string[] = [];
    for (const url of BYPASSES) {
      const res = await checkout(url);
      if (res.status !== 422 || res.body?.error?.code !== 'INVALID_RETURN_URL') accepted.push(`${JSON.stringify(url)} → ${res.status} ${res.text.slice(0, 120)}`);
    }
    expect(accepted).to.deep.equal([]);
    expect(s.stripe.calls).to.deep.equal([]);
  });

  it(`refuses the same ${BYPASSES.length} bypasses at the customer portal endpoint and never calls Stripe`, async () => {
    s.stripe.reset();
    for (const url of BYPASSES) {
      expect(errorOf(await s.api('POST', '/v1/checkout/portal-sessions', { token, json: { returnUrl: url } })), url).to.deep.equal([422, 'INVALID_RETURN_URL']);
    }
    expect(s.stripe.calls).to.deep.equal([]);
  });

  it('accepts an allowed origin and sends Stripe only URLs on it (the refusals above are the allow-list, not a broken route)', async () => {
    s.stripe.reset();
    const res = await checkout(`${FRONTEND}/billing/done?tab=2`);
    expect(res.status, res.text).to.equal(201);
    const call = s.stripe.calls.find((c) => c.path === '/v1/checkout/sessions')!;
    expect(new URL(call.params.success_url!).origin).to.equal(FRONTEND);
    expect(new URL(call.params.cancel_url!).origin).to.equal(FRONTEND);
    expect(call.params.success_url).to.match(/^https:\/\/app\.example\.com\/billing\/done\?tab=2&checkout=success&session_id=\{CHECKOUT_SESSION_ID\}$/);
  });
});
