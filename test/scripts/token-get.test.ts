import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startSystem, type System, type Service } from '../helpers/system.js';
import { HttpBrowser, LOGIN_FORM, CONSENT_FORM } from '../helpers/http-browser.js';
import { runNode, SOURCE_FLAGS } from '../helpers/process.js';
import { PASSWORD } from '../authz-server/oidc.flow.js';
import { DEVICE_GRANT, personAnswers } from '../authz-server/device-flow.flow.js';
import { productionEnv } from '../shared/config/support.js';

/**
 * `npm run admin -- token:get`: from nothing to a usable API token with one command. The
 * person's part (sign-in and consent in a browser) is played by HttpBrowser; everything else is
 * the CLI: its own development client, PKCE, the loopback listener, the code exchange, the
 * decoded output and a curl line. With --device (RFC 8628) the person's part is HttpBrowser on /device.
 */
describe('admin CLI: token:get', function () {
  this.timeout(90_000);
  let env: System;
  let server: Service;
  let userId: string;

  before(async () => {
    env = await startSystem({ backend: 'sqlite', authz: 0 });
    server = await env.startAuthz();
    userId = await env.createUser({ email: 'newcomer@example.com', password: PASSWORD });
  });
  after(() => env?.close());

  const cli = (args: string[], extra: Record<string, string | undefined> = {}) => runNode([...SOURCE_FLAGS, 'scripts/admin.ts', 'token:get', ...args], { ...env.env, LOG_LEVEL: 'warn', ...extra });

  it('prints the authorization URL, takes the redirect on loopback and prints the tokens decoded with a curl line', async () => {
    const proc = cli(['--no-open']);
    try {
      await proc.waitFor(/http:\/\/\S+\/auth\?\S+/, 45_000);
      const url = /(http:\/\/\S+\/auth\?\S+)/.exec(proc.output())![1]!;
      expect(new URL(url).searchParams.get('code_challenge_method')).to.equal('S256');
      expect(new URL(url).searchParams.get('resource')).to.equal(env.config.api.audience);

      const person = new HttpBrowser();
      let page = await person.get(url, server.issuer);
      page = await person.submit(page, LOGIN_FORM, { email: 'newcomer@example.com', password: PASSWORD }, server.issuer);
      page = await person.submit(page, CONSENT_FORM, { decision: 'allow' }, server.issuer);
      expect(page.location).to.match(/^http:\/\/127\.0\.0\.1:\d+\/callback\?code=/);
      const landed = await person.request(page.location!);
      expect(landed.text).to.equal('Signed in. You can close this tab and return to the terminal.');

      expect(await proc.exited, proc.output()).to.equal(0);
      const out = proc.output();
      const token = /^access_token=(\S+)$/m.exec(out)?.[1];
      expect(token, out).to.be.a('string');
      expect(out).to.contain('"typ":"at+jwt"');
      expect(out).to.contain(`"sub": "${userId}"`);
      expect(out).to.contain(`"aud": "${env.config.api.audience}"`);
      expect(out, 'no refresh token unless offline_access is asked for').to.contain('(no refresh token: ask for offline_access)');
      expect(out).to.contain(`curl -H "Authorization: Bearer ${token}" ${env.config.api.audience}/v1/me`);
      expect(await env.db('oauth_clients').where({ client_id: 'portcullis-dev-cli' }).count({ n: '*' }).first()).to.deep.include({ n: 1 });
    } finally {
      await proc.stop(2000);
    }
  });

  it('refuses a production configuration before registering anything', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'portcullis-token-prod-'));
    try {
      const proc = runNode([...SOURCE_FLAGS, 'scripts/admin.ts', 'token:get', '--no-open'], await productionEnv(dir));
      expect(await proc.exited).to.equal(2);
      expect(proc.output()).to.contain('token:get is a development tool');
      expect(proc.output()).not.to.contain('/auth?');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('says to start Portcullis when the authorization server does not answer', async () => {
    const proc = cli(['--no-open'], { ISSUER_URL: 'http://127.0.0.1:1' });
    expect(await proc.exited).to.equal(2);
    expect(proc.output()).to.contain('Start Portcullis first: npm start');
  });

  it('--device (RFC 8628, a terminal without a browser): prints where to enter which code, polls until the person allows, and prints the tokens', async () => {
    const proc = cli(['--device']);
    try {
      await proc.waitFor(/enter the code [A-Z]{4}-[A-Z]{4}/, 45_000);
      const [, uri, code] = /open (\S+) and enter the code ([A-Z]{4}-[A-Z]{4})/.exec(proc.output())!;
      expect(uri).to.equal(`${server.issuer}/device`);
      const pages = await personAnswers(new HttpBrowser(), server.issuer, code!, { email: 'newcomer@example.com' });
      expect(pages.final.text).to.include('<h1>Device connected</h1>');

      expect(await proc.exited, proc.output()).to.equal(0);
      const out = proc.output();
      expect(out).to.contain(`"sub": "${userId}"`);
      expect(out).to.contain(`"aud": "${env.config.api.audience}"`);
      expect(out).to.contain('"client_id": "portcullis-dev-device"');
      const stored = await env.db('oauth_clients').where({ client_id: 'portcullis-dev-device' }).first();
      expect(JSON.parse(stored.metadata)).to.deep.include({ redirect_uris: [], response_types: [], grant_types: ['refresh_token', DEVICE_GRANT] });
    } finally {
      await proc.stop(2000);
    }
  });

  it('--device: says so when the person cancels', async () => {
    const proc = cli(['--device', '--scope', 'openid']);
    try {
      await proc.waitFor(/enter the code [A-Z]{4}-[A-Z]{4}/, 45_000);
      const code = /enter the code ([A-Z]{4}-[A-Z]{4})/.exec(proc.output())![1]!;
      await personAnswers(new HttpBrowser(), server.issuer, code, { email: 'newcomer@example.com', decision: 'cancel' });
      expect(await proc.exited).to.equal(2);
      expect(proc.output()).to.contain('Sign-in ended: access_denied.');
      expect(proc.output()).not.to.contain('access_token=');
    } finally {
      await proc.stop(2000);
    }
  });
});
