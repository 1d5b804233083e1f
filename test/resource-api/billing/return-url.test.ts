import { expect } from 'chai';
import { validateReturnUrl } from '#api/features/billing/index.js';

const policy = { allowedOrigins: ['https://app.example.com', 'https://shop.example.com:8443', 'http://localhost:3000'], allowHttpLocalhost: true };
const production = { ...policy, allowHttpLocalhost: false };

describe('validateReturnUrl', () => {
  describe('accepts allowed origins', () => {
    const ok: [string, string][] = [
      ['https://app.example.com', 'https://app.example.com/'],
      ['https://app.example.com/billing/done?tab=2#top', 'https://app.example.com/billing/done?tab=2#top'],
      ['HTTPS://APP.EXAMPLE.COM/x', 'https://app.example.com/x'], // scheme and host are case-insensitive
      ['https://app.example.com:443/x', 'https://app.example.com/x'], // default port normalizes away
      ['https://shop.example.com:8443/cart', 'https://shop.example.com:8443/cart'],
      ['http://localhost:3000/after', 'http://localhost:3000/after'],
      ['https://app.example.com/a%20b?q=%41', 'https://app.example.com/a%20b?q=%41'],
    ];
    for (const [input, href] of ok) {
      it(input, () => {
        const v = validateReturnUrl(input, policy);
        expect(v.ok, JSON.stringify(v)).to.equal(true);
        if (v.ok) expect(v.url.href).to.equal(href);
      });
    }
  });

  describe('refuses open-redirect bypasses', () => {
    // [input, why]. Every one must be refused with the development policy (the laxer one).
    const bypasses: [unknown, string][] = [
      ['https://evil.com/', 'foreign origin'],
      ['https://app.example.com.evil.com/', 'allowed host as a prefix of another'],
      ['https://evilapp.example.com/', 'suffix look-alike'],
      ['https://example.com/', 'parent domain'],
      ['https://sub.app.example.com/', 'subdomain of an allowed origin'],
      ['http://app.example.com/', 'http to an allowed https origin'],
      ['https://app.example.com:8443/', 'allowed host on another port'],
      ['https://shop.example.com/', 'allowed host without its port'],
      ['//evil.com/', 'protocol-relative'],
      ['///evil.com/', 'triple slash'],
      ['/\\evil.com', 'slash-backslash'],
      ['\\\\evil.com', 'double backslash'],
      ['https:evil.com', 'no slashes (WHATWG would fix it up)'],
      ['https:/evil.com', 'one slash'],
      ['https:///evil.com', 'empty authority, host in path'],
      ['https:\\\\evil.com', 'backslashes as slashes'],
      ['https://app.example.com\\@evil.com', 'backslash before @'],
      ['https://app.example.com@evil.com/', 'userinfo: real host is evil.com'],
      ['https://user:pass@app.example.com/', 'userinfo on the allowed host'],
      ['https://:@app.example.com/', 'empty userinfo'],
      ['https://evil.com#@app.example.com', 'fragment hiding the host'],
      ['https://evil.com?@app.example.com', 'query hiding the host'],
      ['https://evil.com\\.app.example.com', 'backslash split host'],
      ['https://app.example.com%2f@evil.com', 'encoded slash in userinfo'],
      ['https://app.example.com%2F%2Fevil.com', 'encoded slashes'],
      ['https://app.example.com/%2f%2fevil.com', 'encoded protocol-relative path'],
      ['https://app.example.com/%5cevil.com', 'encoded backslash'],
      ['https://app.example.com/%252f%252fevil.com', 'double-encoded slashes'],
      ['https://app.example.com//evil.com', 'protocol-relative path on the allowed origin'],
      ['https://app.example.com/%0d%0aLocation:%20https://evil.com', 'encoded CRLF (header injection)'],
      ['https://app.example.com/\r\nLocation: https://evil.com', 'raw CRLF'],
      ['https://app.example.com/\tx', 'raw tab (WHATWG strips it)'],
      ['https://app.example\t.com/', 'tab inside the host'],
      [' https://app.example.com/', 'leading space (WHATWG trims it)'],
      ['https://app.example.com/\u0000', 'NUL'],
      ['https://app.example.com/\u007f', 'DEL'],
      ['https://app。example。com/', 'ideographic full stops normalize to dots'],
      ['https://аpp.example.com/', 'Cyrillic а (IDN homograph)'],
      ['https://app.example.com\u2028/', 'Unicode line separator'],
      ['https://xn--pp-8cd.example.com/', 'punycode look-alike host'],
      ['javascript:alert(document.domain)//https://app.example.com', 'javascript: scheme'],
      ['JaVaScRiPt:alert(1)', 'javascript: in mixed case'],
      ['data:text/html,<script>alert(1)</script>', 'data: scheme'],
      ['vbscript:msgbox(1)', 'vbscript: scheme'],
      ['file:///etc/passwd', 'file: scheme'],
      ['ftp://app.example.com/', 'ftp: scheme'],
      ['/billing/done', 'relative path'],
      ['billing/done', 'relative without slash'],
      ['app.example.com/billing', 'no scheme'],
      ['https://', 'no host'],
      ['https://app.example.com:99999/', 'port out of range (unparseable)'],
      ['https://[::1/', 'broken IPv6 literal'],
      ['https://2130706433/', 'decimal IPv4 (127.0.0.1)'],
      ['https://0x7f.1/', 'hex IPv4'],
      ['http://127.0.0.1:3000/', 'loopback by IP, not an allowed origin'],
      ['http://localhost:3001/', 'localhost on another port'],
      ['http://localhost.evil.com:3000/', 'localhost as a subdomain'],
      [`https://app.example.com/${'a'.repeat(2100)}`, 'longer than 2048'],
      ['', 'empty'],
      [undefined, 'not a string'],
      [42, 'a number'],
      [['https://app.example.com/'], 'an array'],
    ];
    for (const [input, why] of bypasses) {
      it(`${why}: ${JSON.stringify(input)?.slice(0, 80)}`, () => {
        const v = validateReturnUrl(input, policy);
        expect(v.ok, `accepted ${JSON.stringify(input)}`).to.equal(false);
      });
    }
    it('has a corpus of at least 30 bypasses', () => expect(bypasses.length).to.be.at.least(30));
  });

  it('refuses http://localhost in production even when the origin is listed', () => {
    expect(validateReturnUrl('http://localhost:3000/after', production)).to.deep.equal({ ok: false, reason: 'http outside local development' });
    expect(validateReturnUrl('https://app.example.com/x', production).ok).to.equal(true);
  });

  it('never allows http for a non-loopback host, even if listed', () => {
    const v = validateReturnUrl('http://app.test/x', { allowedOrigins: ['http://app.test'], allowHttpLocalhost: true });
    expect(v).to.deep.equal({ ok: false, reason: 'http outside local development' });
  });

  it('compares normalized allow-list entries and ignores malformed ones', () => {
    const list = { allowedOrigins: ['HTTPS://App.Example.com:443/some/path', 'not a url', 'null'], allowHttpLocalhost: false };
    expect(validateReturnUrl('https://app.example.com/x', list).ok).to.equal(true);
    expect(validateReturnUrl('https://evil.com/x', list)).to.deep.equal({ ok: false, reason: 'origin not allowed' });
  });

  it('gives the reason of a refusal', () => {
    expect(validateReturnUrl('https://a@app.example.com/', policy)).to.deep.equal({ ok: false, reason: 'userinfo' });
    expect(validateReturnUrl('//evil.com', policy)).to.deep.equal({ ok: false, reason: 'not an absolute http(s) URL' });
    expect(validateReturnUrl('https://app.example.com/%2f', policy)).to.deep.equal({ ok: false, reason: 'encoded slash, backslash, percent or control character' });
  });
});
