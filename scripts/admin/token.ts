import http from 'node:http';
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import type { Config } from '#shared/config/index.js';
import { API_SCOPES, isApiScope } from '#shared/oauth/scopes.js';
import { createDb } from '#shared/db/index.js';
import { createClientService } from '#authz/clients/service.js';
import { findClient } from '#authz/queries/clients.js';
import { adminConfig } from './context.js';
import { UsageError, type Command } from './types.js';

/** The development client token:get registers for itself: public, native, loopback redirect. */
export const DEV_CLIENT_ID = 'portcullis-dev-cli';
/** Its twin for `--device` (RFC 8628): device-only, no redirect URI. */
export const DEV_DEVICE_CLIENT_ID = 'portcullis-dev-device';
const USAGE = 'token:get [--scope "openid email …"] [--resource URL] [--client ID] [--port N] [--no-open] [--device] [--timeout SECONDS]';
/** No offline_access by default: a refresh token is a long-lived credential to print only on request. */
const DEFAULT_SCOPE = `openid email profile ${API_SCOPES.join(' ')}`;
const CLIENT_SCOPES = `openid email profile offline_access ${API_SCOPES.join(' ')}`;

/**
 * `token:get`: the first token in one command. Authorization code + PKCE (RFC 7636) with a
 * loopback redirect (RFC 8252 §7.3), exactly as an agent does it: the person signs in and
 * consents in their browser, the command redeems the code and prints the tokens decoded and a
 * `curl` line for the API. `--device`: the device authorization grant (RFC 8628) instead, for a
 * terminal without a browser — it prints a code to enter at /device on any other device.
 * Development only: it registers its own client.
 */
export const tokenCommands: Record<string, Command> = {
  'token:get': {
    summary: 'sign in through the browser and print an access token (decoded) and a curl line — development only',
    usage: USAGE.replace(/^token:get /, ''),
    run: async (args, write, io) => {
      let values;
      try {
        ({ values } = parseArgs({
          args,
          options: { scope: { type: 'string' }, resource: { type: 'string' }, client: { type: 'string' }, port: { type: 'string' }, 'no-open': { type: 'boolean' }, device: { type: 'boolean' }, timeout: { type: 'string' } },
          strict: true,
        }));
      } catch (err) {
        throw new UsageError(`${(err as Error).message}\nusage: npm run admin -- ${USAGE}`);
      }
      const config = await adminConfig(io.env);
      if (config.isProduction) throw new UsageError('token:get is a development tool: it registers a client and prints tokens. It refuses a production configuration (NODE_ENV=production).');
      const scope = values.scope ?? DEFAULT_SCOPE;
      const resource = values.resource ?? (scope.split(' ').some(isApiScope) ? config.api.audience : undefined);
      const clientId = values.client ?? (await ensureDevClient(config, values.device ? DEV_DEVICE_CLIENT_ID : DEV_CLIENT_ID));
      const timeoutS = values.timeout ? Number(values.timeout) : 300;
      if (values.device) return getTokenByDevice(config, { clientId, scope, resource, timeoutS }, write);
      await getToken(config, { clientId, scope, resource, port: values.port ? Number(values.port) : 0, open: !values['no-open'], timeoutS }, write);
    },
  },
};

async function ensureDevClient(config: Config, clientId: string): Promise<string> {
  const db = createDb(config.db);
  const device = clientId === DEV_DEVICE_CLIENT_ID;
  try {
    if (!(await findClient(db, clientId))) {
      await createClientService(db).create({
        clientId, name: `Portcullis token:get${device ? ' --device' : ''} (development)`, type: 'public', applicationType: 'native',
        redirectUris: device ? [] : ['http://127.0.0.1/callback'], scopes: CLIENT_SCOPES.split(' '), deviceCode: device,
      } as never);
    }
    return clientId;
  } finally {
    await db.destroy();
  }
}

async function discover(oidc: typeof import('openid-client'), config: Config, clientId: string) {
  const issuer = new URL(config.authz.issuer);
  // Plain http only for a development issuer on this machine.
  const insecure = issuer.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(issuer.hostname) ? { execute: [oidc.allowInsecureRequests] } : undefined;
  return oidc.discovery(issuer, clientId, undefined, oidc.None(), insecure).catch((err: Error) => {
    throw new UsageError(`Cannot reach the authorization server at ${issuer.href} (${err.message}). Start Portcullis first: npm start`);
  });
}

interface Flow { clientId: string; scope: string; resource: string | undefined; port: number; open: boolean; timeoutS: number }

async function getToken(config: Config, flow: Flow, write: (s: string) => void): Promise<void> {
  // openid-client is loaded here only: a production image (no dev dependencies) never gets this far.
  const oidc = await import('openid-client');
  const client = await discover(oidc, config, flow.clientId);

  const { server, callback } = await listen(flow.port);
  try {
    const redirectUri = `http://127.0.0.1:${(server.address() as { port: number }).port}/callback`;
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(client, {
      redirect_uri: redirectUri, scope: flow.scope, state, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      ...(flow.resource ? { resource: flow.resource } : {}),
    });
    write('Open this URL in your browser, sign in and allow access:\n');
    write(`  ${url.href}\n`);
    if (flow.open) openBrowser(url.href);
    const returned = await Promise.race([callback, new Promise<never>((_, reject) => setTimeout(() => reject(new UsageError(`No sign-in within ${flow.timeoutS} s: stopped.`)), flow.timeoutS * 1000).unref())]);
    const tokens = await oidc.authorizationCodeGrant(client, new URL(returned, redirectUri), { pkceCodeVerifier: verifier, expectedState: state }, flow.resource ? { resource: flow.resource } : undefined);
    print(tokens, config, write);
  } finally {
    server.close();
  }
}

/** RFC 8628 from this terminal: print the code and where to enter it, poll until the person answers. */
async function getTokenByDevice(config: Config, flow: Pick<Flow, 'clientId' | 'scope' | 'resource' | 'timeoutS'>, write: (s: string) => void): Promise<void> {
  const oidc = await import('openid-client');
  const client = await discover(oidc, config, flow.clientId);
  const r = await oidc.initiateDeviceAuthorization(client, { scope: flow.scope, ...(flow.resource ? { resource: flow.resource } : {}) });
  write(`On your phone or any browser, open ${r.verification_uri} and enter the code ${r.user_code}`);
  write(`  (or open ${r.verification_uri_complete})\nWaiting for you to allow access…\n`);
  const signal = AbortSignal.timeout(Math.min(flow.timeoutS, r.expires_in) * 1000);
  const tokens = await oidc.pollDeviceAuthorizationGrant(client, r, undefined, { signal }).catch((err: Error & { error?: string }) => {
    throw new UsageError(err.error ? `Sign-in ended: ${err.error}.` : `No sign-in within ${flow.timeoutS} s: stopped.`);
  });
  print(tokens, config, write);
}

/** A loopback listener for exactly one redirect. */
function listen(port: number): Promise<{ server: http.Server; callback: Promise<string> }> {
  let deliver!: (url: string) => void;
  const callback = new Promise<string>((r) => (deliver = r));
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/callback') return void res.writeHead(404).end();
    const failed = url.searchParams.get('error');
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(failed ? `Sign-in ended: ${failed}. You can close this tab.` : 'Signed in. You can close this tab and return to the terminal.');
    deliver(req.url!);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve({ server, callback }));
  });
}

function openBrowser(url: string): void {
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  try {
    spawn(cmd, [url], { stdio: 'ignore', detached: true }).on('error', () => undefined).unref();
  } catch {
    // no opener: the printed URL is enough
  }
}

function print(tokens: { access_token: string; id_token?: string; refresh_token?: string; expires_in?: number; scope?: string; token_type: string }, config: Config, write: (s: string) => void): void {
  write(`token_type=${tokens.token_type}  expires_in=${tokens.expires_in ?? '?'}s  scope="${tokens.scope ?? ''}"\n`);
  write(`access_token=${tokens.access_token}`);
  if (tokens.access_token.split('.').length === 3) {
    write(`  header: ${JSON.stringify(decodeProtectedHeader(tokens.access_token))}`);
    write(`  claims: ${JSON.stringify(decodeJwt(tokens.access_token), null, 2).replace(/\n/g, '\n  ')}`);
  } else {
    write('  (opaque: for userinfo only — ask for an API scope to get a JWT for the marketplace API)');
  }
  if (tokens.id_token) write(`\nid_token claims: ${JSON.stringify(decodeJwt(tokens.id_token), null, 2)}`);
  write(tokens.refresh_token ? `\nrefresh_token=${tokens.refresh_token}` : '\n(no refresh token: ask for offline_access)');
  write(`\nTry it:\n  curl -H "Authorization: Bearer ${tokens.access_token}" ${config.api.audience}/v1/me`);
}
