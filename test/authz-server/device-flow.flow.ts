import { expect } from 'chai';
import * as oidc from 'openid-client';
import { CONSENT_FORM, LOGIN_FORM, type HttpBrowser, type Page } from '../helpers/http-browser.js';
import { PASSWORD } from './oidc.flow.js';

/** RFC 8628 helpers shared by the device flow suites: the person's part over HTTP. */

export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** RFC 8628 §6.1 base-20, shown as XXXX-XXXX. */
export const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;
export const INPUT_FORM = /<form id="device-input" method="post" action="([^"]+)"/;
export const CONFIRM_FORM = /<form id="device-confirm" method="post" action="([^"]+)"/;

/** A hidden field of the page's form (oidc-provider's xsrf, the code being confirmed). */
export function hidden(page: Page, name: string): string {
  const m = new RegExp(`<input type="hidden" name="${name}" value="([^"]*)"`).exec(page.text);
  if (!m) throw new Error(`no hidden ${name} on ${page.url} (${page.status}):\n${page.text.slice(0, 500)}`);
  return m[1]!;
}

/** An openid-client configuration for a device client (public unless a secret is given). */
export function deviceConfig(issuer: string, clientId: string, secret?: string): Promise<oidc.Configuration> {
  const auth = secret ? oidc.ClientSecretBasic(secret) : oidc.None();
  return oidc.discovery(new URL(issuer), clientId, secret ? { client_secret: secret } : {}, auth, { execute: [oidc.allowInsecureRequests] });
}

/** /device, the code typed as `typed`: the confirmation page (or the input page again on an error). */
export async function enterCode(browser: HttpBrowser, issuer: string, typed: string): Promise<{ input: Page; confirm: Page }> {
  const input = await browser.get(`${issuer}/device`, issuer);
  expect(input.status, 'the input page').to.equal(200);
  const confirm = await browser.submit(input, INPUT_FORM, { xsrf: hidden(input, 'xsrf'), user_code: typed }, issuer);
  return { input, confirm };
}

export interface PersonPages {
  input: Page;
  confirm: Page;
  login?: Page;
  consent?: Page;
  /** The last page: success, denied, or whatever stopped the walk. */
  final: Page;
}

/**
 * The person's part on a phone: types the code, answers the confirmation (Continue, or Cancel),
 * signs in when asked and answers the consent page when shown.
 */
export async function personAnswers(
  browser: HttpBrowser,
  issuer: string,
  typed: string,
  opts: { email: string; decision?: 'allow' | 'deny' | 'cancel' },
): Promise<PersonPages> {
  const { input, confirm } = await enterCode(browser, issuer, typed);
  expect(confirm.status, `the confirmation page: ${confirm.text.slice(0, 300)}`).to.equal(200);
  const fields = { xsrf: hidden(confirm, 'xsrf'), user_code: hidden(confirm, 'user_code') };
  if (opts.decision === 'cancel') return { input, confirm, final: await browser.submit(confirm, CONFIRM_FORM, { ...fields, abort: 'yes' }, issuer) };
  const out: PersonPages = { input, confirm, final: await browser.submit(confirm, CONFIRM_FORM, { ...fields, confirm: 'yes' }, issuer) };
  if (LOGIN_FORM.test(out.final.text)) {
    out.login = out.final;
    out.final = await browser.submit(out.final, LOGIN_FORM, { email: opts.email, password: PASSWORD }, issuer);
  }
  if (CONSENT_FORM.test(out.final.text)) {
    out.consent = out.final;
    out.final = await browser.submit(out.final, CONSENT_FORM, { decision: opts.decision ?? 'allow' }, issuer);
  }
  return out;
}

/** A raw token request for a device code (what openid-client would not send twice in a row). */
export async function pollOnce(issuer: string, form: Record<string, string>, basic?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', ...(basic ? { authorization: `Basic ${basic}` } : {}) };
  const res = await fetch(`${issuer}/token`, { method: 'POST', headers, body: new URLSearchParams({ grant_type: DEVICE_GRANT, ...form }) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
