import type { Context } from 'koa';
import { SCOPE_DESCRIPTIONS } from '#shared/oauth/scopes.js';
import { esc, renderPage } from './layout.js';

const DESCRIPTIONS: Record<string, string> = SCOPE_DESCRIPTIONS;

export interface ConsentPageInput {
  action: string;
  /** Ends this browser's session and starts the request again with a fresh sign-in. */
  switchAction: string;
  clientName: string;
  /** The signed-in account the client will act for (session planting shows here). */
  account: string;
  /** OpenID scopes: what the client learns about the person. */
  aboutYou: string[];
  /** Resource scopes, per resource server (RFC 8707 indicator). */
  resources: { indicator: string; scopes: string[] }[];
}

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
<form method="post" action="${esc(input.switchAction)}" class="inline-text"><button type="submit" class="link">Not you? Use another account</button></form>
<p><strong>${esc(input.clientName)}</strong> is asking to:</p>
${groups.join('\n')}
<form method="post" action="${esc(input.action)}" class="actions">
  <button type="submit" name="decision" value="allow">Allow</button>
  <button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</form>`,
  );
}
