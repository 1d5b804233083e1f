import * as oidc from 'openid-client';
import { HttpBrowser, LOGIN_FORM, CONSENT_FORM, type Page } from '../helpers/http-browser.js';

export const REDIRECT = 'http://127.0.0.1:8765/callback';
export const PASSWORD = 'correct horse battery staple';

export async function discover(issuer: string, clientId: string, auth: oidc.ClientAuth = oidc.None(), secret?: string) {
  return oidc.discovery(new URL(issuer), clientId, secret ? { client_secret: secret } : { redirect_uris: [REDIRECT] }, auth, { execute: [oidc.allowInsecureRequests] });
}

export interface AuthorizeOptions {
  scope?: string;
  extra?: Record<string, string>;
  email?: string;
  /** `false`: stop at the first page that is not a redirect on the issuer (to inspect it). */
  signIn?: boolean;
}

/** Front channel of the code flow: returns the callback URL and the PKCE verifier and state. */
export async function authorize(config: oidc.Configuration, browser: HttpBrowser, opts: AuthorizeOptions = {}) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope: opts.scope ?? 'openid offline_access',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    prompt: 'consent',
    ...opts.extra,
  });
  const issuer = new URL(config.serverMetadata().issuer).origin;
  let page = await browser.get(url.href, issuer);
  if (opts.signIn !== false && LOGIN_FORM.test(page.text)) {
    page = await browser.submit(page, LOGIN_FORM, { email: opts.email ?? 'alice@example.com', password: PASSWORD }, issuer);
  }
  if (opts.signIn !== false && CONSENT_FORM.test(page.text)) {
    page = await browser.submit(page, CONSENT_FORM, { decision: 'allow' }, issuer);
  }
  return { page, verifier, state, callback: page.location ? new URL(page.location) : undefined };
}

export async function signedInTokens(config: oidc.Configuration, browser: HttpBrowser, opts: AuthorizeOptions = {}) {
  const { callback, verifier, state, page } = await authorize(config, browser, opts);
  if (!callback || !callback.href.startsWith(REDIRECT)) throw new Error(`no callback: ${page.status} ${page.text.slice(0, 300)}`);
  return oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
}

/** Raw token request, for cases openid-client would refuse to send. */
export async function tokenRequest(issuer: string, form: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

export type { Page };
