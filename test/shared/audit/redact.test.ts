import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import { emailHash, redactProperties, scrubString, truncateIp } from '#shared/audit/redact.js';

const KEY = 'k1';
const hmac = (s: string) => createHmac('sha256', KEY).update(s).digest('hex');

describe('shared/audit redaction', () => {
  it('drops planted password, token, code, cookie, body and card fields, keeping allow-listed ones', () => {
    const r = redactProperties(
      'sign_in.failed',
      {
        method: 'password',
        reason: 'bad_credentials',
        password: 'hunter2',
        token: 'eyJhbGciOi.secret',
        code: '123456',
        cookie: 'sid=abc',
        body: { password: 'hunter2' },
        cardNumber: '4242424242424242',
        notInCatalog: 'x',
      },
      KEY,
    );
    expect(r.properties).to.deep.equal({ method: 'password', reason: 'bad_credentials' });
    expect(r.dropped).to.have.members(['password', 'token', 'code', 'cookie', 'body', 'cardNumber', 'notInCatalog']);
  });

  it('drops an allow-listed property whose value is an object, array, NaN or a card number', () => {
    const r = redactProperties(
      'checkout.created',
      { listingId: { nested: 1 }, mode: ['a'], amountMinor: Number.NaN, currency: '4242 4242 4242 4242' },
      KEY,
    );
    expect(r.properties).to.deep.equal({});
    expect(r.dropped).to.have.members(['listingId', 'mode', 'amountMinor', 'currency']);
  });

  it('keeps a digit string that fails the Luhn check', () => {
    expect(redactProperties('webhook.received', { eventId: 'evt_1234567890123456' }, KEY).properties).to.deep.equal({
      eventId: 'evt_1234567890123456',
    });
  });

  it('replaces an email-shaped value anywhere by its keyed HMAC-SHA256', () => {
    const r = redactProperties('sign_in.failed', { reason: 'unknown user Alice@Example.com here' }, KEY);
    expect(r.properties.reason).to.equal(`unknown user emailhash:${hmac('alice@example.com')} here`);
    expect(JSON.stringify(r)).not.to.include('@');
    expect(emailHash(' Alice@Example.COM ', KEY)).to.equal(hmac('alice@example.com'));
    expect(emailHash('a@b.co', 'other')).not.to.equal(emailHash('a@b.co', KEY));
  });

  it('truncates strings to 200 characters', () => {
    const r = redactProperties('rate_limit.hit', { route: 'x'.repeat(500) }, KEY);
    expect(r.properties.route).to.equal('x'.repeat(200));
    expect(scrubString('abcdef', KEY, 3)).to.equal('abc');
  });

  it('truncates IPs to an IPv4 /24 or IPv6 /48', () => {
    expect(truncateIp('203.0.113.77')).to.equal('203.0.113.0/24');
    expect(truncateIp('::ffff:198.51.100.9')).to.equal('198.51.100.0/24');
    expect(truncateIp('2001:db8:85a3:1234::8a2e:370:7334')).to.equal('2001:db8:85a3::/48');
    expect(truncateIp('2001:db8::1')).to.equal('2001:db8:0::/48');
    expect(truncateIp('fe80::1%eth0')).to.equal('fe80:0:0::/48');
    expect(truncateIp('not an ip')).to.equal(undefined);
    expect(truncateIp(undefined)).to.equal(undefined);
  });
});
