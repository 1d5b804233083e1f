import type { Context } from 'koa';
import { esc, renderPage } from './layout.js';

const DESCRIPTIONS: Record<string, string> = {
  openid: 'Confirm who you are',
  profile: 'See your name',
  email: 'See your email address',
  offline_access: 'Stay signed in (keep access when you are away)',
  'listings:read': 'Read marketplace listings',
  'listings:write': 'Create and edit your listings',
  'reviews:write': 'Write reviews in your name',
  'checkout:create': 'Start purchases in your name',
  'usage:report': 'Report usage against your quotas',
  'usage:read': 'See your usage and quotas',
};

export interface ConsentPageInput {
  action: string;
  clientName: string;
  scopes: string[];
}

export function renderConsent(ctx: Context, input: ConsentPageInput): void {
  const items = input.scopes.map((s) => `<li>${esc(DESCRIPTIONS[s] ?? s)} <small>(${esc(s)})</small></li>`).join('\n');
  renderPage(
    ctx,
    'Allow access',
    `<h1>Allow access?</h1>
<p><strong>${esc(input.clientName)}</strong> is asking to:</p>
<ul>
${items}
</ul>
<form method="post" action="${esc(input.action)}">
  <button type="submit" name="decision" value="allow">Allow</button>
  <button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</form>`,
  );
}
