import type { Context } from 'koa';
import { SCOPE_DESCRIPTIONS } from '#shared/oauth/scopes.js';
import { esc, renderPage } from './layout.js';
import { phishingWarning, userCodeBlock } from './device-code.js';

const DESCRIPTIONS: Record<string, string> = SCOPE_DESCRIPTIONS;

export interface ConsentPageInput {
  action: string;
  /** Ends this browser's session and starts the request again with a fresh sign-in. */
  switchAction: string;
  clientName: string;
  /**
   * Who vouches for the client: an operator registered it, or it joined by itself (RFC 7591
   * registration, or a client ID metadata document at `host`) and its name is only its own claim.
   */
  provenance: ClientProvenance;
  /** Where the answer goes (the redirect URI), as a person reads it. */
  redirectTo: string;
  /** The signed-in account the client will act for (session planting shows here). */
  account: string;
  /** OpenID scopes: what the client learns about the person. */
  aboutYou: string[];
  /** Resource scopes, per resource server (RFC 8707 indicator). */
  resources: { indicator: string; scopes: string[] }[];
  /**
   * RFC 8628 device flow: the code the device shows (XXXX-XXXX). The person compares it and
   * is warned about codes sent by someone else (§5.4); the answer goes to that device.
   */
  userCode?: string;
}

export type ClientProvenance = { kind: 'operator' } | { kind: 'registered' } | { kind: 'metadata-document'; host: string };

/** A redirect URI as a person can judge it: a host, "an app on this device", or the app's scheme. */
export function describeRedirect(uri: string): string {
  if (!URL.canParse(uri)) return uri;
  const u = new URL(uri);
  if (u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) return 'an app on this device';
  if (u.protocol === 'https:' || u.protocol === 'http:') return u.host;
  return `the app ${u.protocol.slice(0, -1)}`;
}

function who(input: ConsentPageInput): string {
  const name = `<strong>${esc(input.clientName)}</strong>`;
  if (input.provenance.kind === 'operator') return `<p>${name} is asking to:</p>`;
  const from =
    input.provenance.kind === 'metadata-document'
      ? `It identifies itself by a document at <strong>${esc(input.provenance.host)}</strong>.`
      : 'It registered itself with this marketplace.';
  return `<p>${name} <small>(name given by the app itself, not checked by us)</small> is asking to:</p>
<p class="provenance">${from} Only allow it if you started this from an app you trust.</p>`;
}

// A device's interaction cannot restart from an authorization URL: another account means
// answering no here and starting again on the device.
const DEVICE_NOT_YOU = '<p>Not you? Choose Deny, <a href="/account">sign out</a>, and start again on the device.</p>';

const list = (scopes: string[]) => scopes.map((s) => `<li>${esc(DESCRIPTIONS[s] ?? s)} <small>(${esc(s)})</small></li>`).join('\n');

export function renderConsent(ctx: Context, input: ConsentPageInput): void {
  const groups = [
    ...(input.aboutYou.length ? [`<h2>About you</h2>\n<ul>\n${list(input.aboutYou)}\n</ul>`] : []),
    ...input.resources.filter((r) => r.scopes.length).map((r) => `<h2>The marketplace API <small>(${esc(r.indicator)})</small></h2>\n<ul>\n${list(r.scopes)}\n</ul>`),
  ];
  renderPage(
    ctx,
    'Allow access',
    `<h1>Allow access?</h1>
<p class="account">Signed in as <strong>${esc(input.account)}</strong>.</p>
${input.userCode ? DEVICE_NOT_YOU : `<form method="post" action="${esc(input.switchAction)}" class="inline-text"><button type="submit" class="link">Not you? Use another account</button></form>`}
${input.userCode ? userCodeBlock(input.userCode) : ''}
${who(input)}
${groups.join('\n')}
${input.userCode ? `${phishingWarning()}\n<p class="redirect">After you answer, the device that shows this code gets the answer.</p>` : `<p class="redirect">After you answer you go back to <strong>${esc(input.redirectTo)}</strong>.</p>`}
<form method="post" action="${esc(input.action)}" class="actions">
  <button type="submit" name="decision" value="allow">Allow</button>
  <button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</form>`,
  );
}
