import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { BlockedAddressError, createOutboundFetch, guardedLookup, isAllowedAddress } from '#authz/oidc/outbound-fetch.js';

/** The error a fetch failed with, following `cause` (undici wraps connector errors). */
async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    let e: unknown = err;
    for (let i = 0; i < 5 && e; i++) {
      if (e instanceof BlockedAddressError) return e;
      e = (e as { cause?: unknown }).cause;
    }
    return err;
  }
  throw new Error('expected the fetch to fail');
}

describe('authz-server outbound fetch (SSRF guard for client-supplied URLs)', () => {
  const strict = { allowLoopback: false };
  const loopbackOk = { allowLoopback: true };

  it('refuses every non-public range, allows public addresses', () => {
    const refused = [
      '127.0.0.1', '127.8.9.10', '10.0.0.1', '172.16.5.4', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0',
      '224.0.0.1', '255.255.255.255', '192.0.2.7', '198.18.0.1', '::1', '::', 'fd00:ec2::254', 'fc00::1', 'fe80::1', '::ffff:10.0.0.1', '::ffff:127.0.0.1',
      '64:ff9b::a00:1', '2001:db8::1', 'ff02::1', 'not-an-ip', '',
    ];
    for (const a of refused) expect(isAllowedAddress(a, strict), a).to.equal(false);
    for (const a of ['93.184.215.14', '8.8.8.8', '172.32.0.1', '2606:4700:4700::1111', '2a00:1450:4001:80b::200e']) expect(isAllowedAddress(a, strict), a).to.equal(true);
  });

  it('the test allowance opens loopback only: private, link-local and metadata addresses stay refused', () => {
    for (const a of ['127.0.0.1', '127.0.0.53', '::1']) expect(isAllowedAddress(a, loopbackOk), a).to.equal(true);
    for (const a of ['10.0.0.1', '192.168.0.10', '169.254.169.254', 'fd00:ec2::254', '::ffff:127.0.0.1', '0.0.0.0']) expect(isAllowedAddress(a, loopbackOk), a).to.equal(false);
  });

  it('refuses a host when any of its DNS answers is private (no connection is attempted)', async () => {
    const answers: Record<string, { address: string; family: number }[]> = {
      'inward.example': [{ address: '10.1.2.3', family: 4 }],
      'mixed.example': [{ address: '93.184.215.14', family: 4 }, { address: '192.168.0.2', family: 4 }],
      'metadata.example': [{ address: '169.254.169.254', family: 4 }],
      'public.example': [{ address: '93.184.215.14', family: 4 }],
    };
    const resolve = (host: string, _o: unknown, cb: (e: NodeJS.ErrnoException | null, a: { address: string; family: number }[]) => void) => cb(null, answers[host] ?? []);
    const lookup = guardedLookup(strict, resolve);
    const ask = (host: string, all: boolean) =>
      new Promise<{ err: Error | null; address: unknown }>((r) => lookup(host, { all } as never, (err, address) => r({ err, address })));
    for (const host of ['inward.example', 'mixed.example', 'metadata.example', 'nowhere.example']) {
      const { err } = await ask(host, false);
      expect(err, host).to.be.instanceOf(BlockedAddressError);
      expect(err!.message).to.equal(`${host} resolves to a non-public address`);
    }
    expect((await ask('public.example', false)).address).to.equal('93.184.215.14');
    expect((await ask('public.example', true)).address).to.deep.equal([{ address: '93.184.215.14', family: 4 }]);
  });

  describe('over real sockets', () => {
    let plain: http.Server;
    let plainHits = 0;
    before(async () => {
      plain = http.createServer((_req, res) => {
        plainHits++;
        res.end('{}');
      });
      await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    });
    after(async () => {
      await new Promise((r) => plain.close(r));
    });

    it('refuses a loopback IP literal before connecting, and a name that resolves to loopback', async () => {
      const fetch = createOutboundFetch(strict);
      const port = (plain.address() as AddressInfo).port;
      expect(await failure(fetch(`http://127.0.0.1:${port}/`))).to.be.instanceOf(BlockedAddressError);
      expect(await failure(fetch(`http://localhost:${port}/`))).to.be.instanceOf(BlockedAddressError);
      expect(await failure(fetch(`http://[::ffff:127.0.0.1]:${port}/`))).to.be.instanceOf(BlockedAddressError);
      expect(plainHits).to.equal(0);
    });

    it('with the test allowance, reaches loopback (and only loopback)', async () => {
      const fetch = createOutboundFetch(loopbackOk);
      const port = (plain.address() as AddressInfo).port;
      const res = await fetch(`http://127.0.0.1:${port}/`);
      expect(res.status).to.equal(200);
      expect(plainHits).to.equal(1);
      expect(await failure(fetch('http://10.255.255.1/'))).to.be.instanceOf(BlockedAddressError);
      expect(await failure(fetch('http://169.254.169.254/latest/meta-data/'))).to.be.instanceOf(BlockedAddressError);
    });

    it('replaces a dispatcher passed in by the caller (oidc-provider passes its own)', async () => {
      const fetch = createOutboundFetch(strict);
      const port = (plain.address() as AddressInfo).port;
      const before = plainHits;
      const theirs = new (await import('undici')).Agent();
      const err = await failure(fetch(`http://127.0.0.1:${port}/`, { dispatcher: theirs } as RequestInit));
      expect(err).to.be.instanceOf(BlockedAddressError);
      expect(plainHits).to.equal(before);
      await theirs.close();
    });
  });
});
