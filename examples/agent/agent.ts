/**
 * A marketplace agent, as a third party would write it: only `openid-client` (no Portcullis
 * code). Authorization code + PKCE over a loopback redirect (RFC 8252), tokens kept in a file
 * only its owner can read, refreshed before they expire, revoked on sign-out (RFC 7009).
 *
 *   node --import tsx examples/agent/agent.ts login   [--no-open]
 *   node --import tsx examples/agent/agent.ts call    /v1/me
 *   node --import tsx examples/agent/agent.ts logout
 *
 * Settings (environment): PORTCULLIS_ISSUER (http://localhost:4000), PORTCULLIS_API
 * (http://localhost:4001), PORTCULLIS_RESOURCE (the API's resource identifier, default
 * PORTCULLIS_API), AGENT_CLIENT_ID (portcullis-dev-cli, the client `npm run admin --
 * token:get` registers), AGENT_SCOPE, AGENT_TOKEN_FILE (~/.portcullis-agent.json).
 */
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import * as client from 'openid-client';

const ISSUER = process.env.PORTCULLIS_ISSUER ?? 'http://localhost:4000';
const API = process.env.PORTCULLIS_API ?? 'http://localhost:4001';
/** The API's resource identifier (RFC 8707): its public URL, unless it is served elsewhere. */
const RESOURCE = process.env.PORTCULLIS_RESOURCE ?? API;
const CLIENT_ID = process.env.AGENT_CLIENT_ID ?? 'portcullis-dev-cli';
const SCOPE = process.env.AGENT_SCOPE ?? 'openid offline_access listings:read usage:read';
const TOKEN_FILE = process.env.AGENT_TOKEN_FILE ?? path.join(os.homedir(), '.portcullis-agent.json');
/** Refresh this long before the access token expires, so a call never races the expiry. */
const REFRESH_MARGIN_S = 30;

interface Stored { access_token: string; refresh_token?: string; expires_at: number }

async function config(): Promise<client.Configuration> {
  // Plain http only for a development issuer on this machine; openid-client refuses it otherwise.
  const options = new URL(ISSUER).protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(new URL(ISSUER).hostname) ? { execute: [client.allowInsecureRequests] } : undefined;
  return client.discovery(new URL(ISSUER), CLIENT_ID, undefined, client.None(), options);
}

async function save(tokens: client.TokenEndpointResponse, previous?: Stored): Promise<Stored> {
  const stored: Stored = {
    access_token: tokens.access_token,
    // A refresh answer without a new refresh token keeps the old one (RFC 6749 §6).
    refresh_token: tokens.refresh_token ?? previous?.refresh_token,
    expires_at: Math.floor(Date.now() / 1000) + (tokens.expires_in ?? 0),
  };
  // A fresh file created 0600, then renamed over the old one: the tokens are never readable by others.
  const tmp = `${TOKEN_FILE}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(stored), { mode: 0o600, flag: 'wx' });
  await rename(tmp, TOKEN_FILE);
  return stored;
}

async function load(): Promise<Stored> {
  try {
    return JSON.parse(await readFile(TOKEN_FILE, 'utf8')) as Stored;
  } catch {
    throw new Error(`not signed in (no ${TOKEN_FILE}): run "login" first`);
  }
}

async function login(open: boolean): Promise<void> {
  const cfg = await config();
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const { server, redirect } = await loopback();
  const redirectUri = `http://127.0.0.1:${(server.address() as { port: number }).port}/callback`;
  try {
    const url = client.buildAuthorizationUrl(cfg, {
      redirect_uri: redirectUri, scope: SCOPE, state, resource: RESOURCE,
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    console.log(`Sign in: ${url.href}`);
    if (open) spawn(process.platform === 'darwin' ? 'open' : 'xdg-open', [url.href], { stdio: 'ignore', detached: true }).on('error', () => undefined).unref();
    const tokens = await client.authorizationCodeGrant(cfg, new URL(await redirect, redirectUri), { pkceCodeVerifier: verifier, expectedState: state }, { resource: RESOURCE });
    await save(tokens);
    console.log(`Signed in; tokens saved to ${TOKEN_FILE} (mode 0600).`);
  } finally {
    server.close();
  }
}

function loopback(): Promise<{ server: http.Server; redirect: Promise<string> }> {
  let deliver!: (u: string) => void;
  const redirect = new Promise<string>((r) => (deliver = r));
  const server = http.createServer((req, res) => {
    if (!req.url?.startsWith('/callback')) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/plain' }).end('Done: return to the terminal.');
    deliver(req.url);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, redirect })));
}

/** A live access token: refreshed (with rotation) when it expires within the margin. */
async function accessToken(): Promise<string> {
  const stored = await load();
  if (stored.expires_at - REFRESH_MARGIN_S > Date.now() / 1000) return stored.access_token;
  if (!stored.refresh_token) throw new Error('the access token expired and there is no refresh token: run "login" again');
  const refreshed = await client.refreshTokenGrant(await config(), stored.refresh_token, { resource: RESOURCE });
  console.error('(refreshed the access token)');
  return (await save(refreshed, stored)).access_token;
}

async function call(apiPath: string): Promise<void> {
  // The token goes to the marketplace API only: an absolute URL elsewhere (from a tool or a
  // model's output) must not carry it away.
  const url = new URL(apiPath, API);
  if (url.origin !== new URL(API).origin) throw new Error(`refusing to send the token to ${url.origin}: only ${new URL(API).origin}`);
  const res = await fetch(url, { headers: { authorization: `Bearer ${await accessToken()}` } });
  console.log(res.status, await res.text());
  if (!res.ok) process.exitCode = 1;
}

async function logout(): Promise<void> {
  const stored = await load();
  // RFC 7009: revoking the refresh token ends the grant; the access token lapses within minutes.
  if (stored.refresh_token) await client.tokenRevocation(await config(), stored.refresh_token, { token_type_hint: 'refresh_token' });
  await rm(TOKEN_FILE, { force: true });
  console.log('Signed out: refresh token revoked, token file removed.');
}

const [command, arg] = process.argv.slice(2);
try {
  if (command === 'login') await login(!process.argv.includes('--no-open'));
  else if (command === 'call' && arg) await call(arg);
  else if (command === 'logout') await logout();
  else {
    console.error('usage: agent.ts login [--no-open] | call /v1/path | logout');
    process.exitCode = 2;
  }
} catch (err) {
  console.error(`agent: ${(err as Error).message}`);
  process.exitCode = 1;
}
