import { expect } from 'chai';
import { authzEnv, type AuthzEnv, type AuthzServer } from '../helpers/authz.js';
import { HttpBrowser } from '../helpers/http-browser.js';
import { runNode, SOURCE_FLAGS } from '../helpers/process.js';
import { PASSWORD } from './oidc.flow.js';
import { DEVICE_GRANT, personAnswers } from './device-flow.flow.js';

/**
 * `npm run admin -- token:get --device`: a terminal without a browser gets a token by RFC 8628.
 * The CLI prints the code and polls; the person's part is HttpBrowser on /device.
 */
describe('admin CLI: token:get --device', function () {
  this.timeout(90_000);
  let env: AuthzEnv;
  let server: AuthzServer;
  let userId: string;

  before(async () => {
    env = await authzEnv('sqlite');
    server = await env.start();
    userId = await env.createUser({ email: 'terminal@example.com', password: PASSWORD });
  });
  after(() => env?.close());

  const cli = (args: string[]) => runNode([...SOURCE_FLAGS, 'scripts/admin.ts', 'token:get', ...args], { ...env.env, LOG_LEVEL: 'warn' });

  it('prints where to enter which code, polls until the person allows, and prints the tokens', async () => {
    const proc = cli(['--device']);
    try {
      await proc.waitFor(/enter the code [A-Z]{4}-[A-Z]{4}/, 45_000);
      const [, uri, code] = /open (\S+) and enter the code ([A-Z]{4}-[A-Z]{4})/.exec(proc.output())!;
      expect(uri).to.equal(`${server.issuer}/device`);
      const pages = await personAnswers(new HttpBrowser(), server.issuer, code!, { email: 'terminal@example.com' });
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

  it('says so when the person cancels', async () => {
    const proc = cli(['--device', '--scope', 'openid']);
    try {
      await proc.waitFor(/enter the code [A-Z]{4}-[A-Z]{4}/, 45_000);
      const code = /enter the code ([A-Z]{4}-[A-Z]{4})/.exec(proc.output())![1]!;
      await personAnswers(new HttpBrowser(), server.issuer, code, { email: 'terminal@example.com', decision: 'cancel' });
      expect(await proc.exited).to.equal(2);
      expect(proc.output()).to.contain('Sign-in ended: access_denied.');
      expect(proc.output()).not.to.contain('access_token=');
    } finally {
      await proc.stop(2000);
    }
  });
});
