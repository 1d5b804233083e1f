import type { Context } from 'koa';
import { SCOPE_DESCRIPTIONS, isApiScope } from '#shared/oauth/scopes.js';
import { errorBox, esc, nextSteps, renderPage, type Link } from './layout.js';
import { START } from './message.js';
import type { ClientProvenance } from './consent.js';

/**
 * The pages of the device authorization grant (RFC 8628 §3.3): code entry at /device, the
 * confirmation that shows the code, and the outcomes. oidc-provider renders them through
 * `features.deviceFlow` (oidc/device-flow.ts); their forms carry the provider's own `xsrf`
 * field. The forms open with their id, so renderPage adds no `_csrf` of ours: the provider
 * checks its token, and this page's origin is its own.
 */

export const ENTER_CODE: Link = { href: '/device', text: 'Enter a code from a device' };
const ACCOUNT: Link = { href: '/account', text: 'Go to your account' };
const DESCRIPTIONS: Record<string, string> = SCOPE_DESCRIPTIONS;

/**
 * RFC 8628 §5.4 (remote phishing): the person is told that a code someone else handed them
 * gives that someone their account. On the confirmation page and on a device's consent page.
 */
export function phishingWarning(): string {
  return `<div class="error" id="device-warning">
<p><strong>Only continue if you started this yourself, on a device in front of you, and it shows this code.</strong></p>
<p>If someone sent you this code, called or messaged you about it, or a page asked you to enter it: stop. Approving gives them access to your account.</p>
</div>`;
}

/** The user code as the device shows it, large enough to compare character by character. */
export function userCodeBlock(userCode: string): string {
  return `<p>Check that your device shows this code:</p>
<p class="key" id="user-code"><strong>${esc(userCode)}</strong></p>`;
}

export interface DeviceInputPage {
  action: string;
  /** oidc-provider's form token (its session's `state.secret`). */
  xsrf: string;
  userCode?: string;
  error?: string;
}

/** /device: the person types the code the device shows (any case; spaces and the dash are ignored). */
export function renderDeviceCodeInput(ctx: Context, input: DeviceInputPage, status = 200): void {
  const invalid = input.error ? ' aria-describedby="form-error code-hint" aria-invalid="true"' : ' aria-describedby="code-hint"';
  renderPage(
    ctx,
    'Connect a device',
    `<h1>Connect a device</h1>
<p>A device or a program without a browser (a server, a container, a terminal) showed you a code. Enter it here to let it use your account.</p>
${errorBox(input.error)}
<form id="device-input" method="post" action="${esc(input.action)}" novalidate>
  <input type="hidden" name="xsrf" value="${esc(input.xsrf)}">
  <label for="user_code">Code</label>
  <input id="user_code" name="user_code" type="text" value="${esc(input.userCode)}" autocomplete="off" autocapitalize="characters" spellcheck="false" required${invalid} autofocus>
  <p class="muted" id="code-hint">Eight letters, like BCDF-GHJK. Capitals, spaces and the dash do not matter.</p>
  <button type="submit">Continue</button>
</form>
<p class="muted">Never enter a code that someone sent you: it would give them your account.</p>`,
    status,
  );
}

export interface DeviceConfirmPage {
  action: string;
  xsrf: string;
  /** As the device shows it (XXXX-XXXX). */
  userCode: string;
  clientName: string;
  provenance: ClientProvenance;
  scopes: string[];
  /** The account already signed in in this browser, if any. */
  account?: string;
}

const list = (scopes: string[]) => scopes.map((s) => `<li>${esc(DESCRIPTIONS[s] ?? s)} <small>(${esc(s)})</small></li>`).join('\n');

function who(input: DeviceConfirmPage): string {
  const name = `<strong>${esc(input.clientName)}</strong>`;
  if (input.provenance.kind === 'operator') return `<p>${name} is asking to:</p>`;
  const from = input.provenance.kind === 'metadata-document' ? `It identifies itself by a document at <strong>${esc(input.provenance.host)}</strong>.` : 'It registered itself with this marketplace.';
  return `<p>${name} <small>(name given by the app itself, not checked by us)</small> is asking to:</p>\n<p>${from}</p>`;
}

/**
 * The confirmation (RFC 8628 §5.4): before anything else happens the person compares the code,
 * sees who asks for what, and is warned. Continue leads to sign-in and consent when needed.
 */
export function renderDeviceCodeConfirm(ctx: Context, input: DeviceConfirmPage): void {
  const aboutYou = input.scopes.filter((s) => !isApiScope(s));
  const api = input.scopes.filter(isApiScope);
  const groups = [
    ...(aboutYou.length ? [`<h2>About you</h2>\n<ul>\n${list(aboutYou)}\n</ul>`] : []),
    ...(api.length ? [`<h2>The marketplace API</h2>\n<ul>\n${list(api)}\n</ul>`] : []),
  ];
  renderPage(
    ctx,
    'Connect this device?',
    `<h1>Connect this device?</h1>
${userCodeBlock(input.userCode)}
${who(input)}
${groups.join('\n')}
${input.account ? `<p class="account">You are signed in as <strong>${esc(input.account)}</strong>.</p>` : '<p>You sign in next.</p>'}
${phishingWarning()}
<form id="device-confirm" method="post" action="${esc(input.action)}" class="actions">
  <input type="hidden" name="xsrf" value="${esc(input.xsrf)}">
  <input type="hidden" name="user_code" value="${esc(input.userCode)}">
  <button type="submit" name="confirm" value="yes">Continue</button>
  <button type="submit" name="abort" value="yes" class="secondary">Cancel</button>
</form>`,
  );
}

export function renderDeviceSuccess(ctx: Context, clientName: string): void {
  renderPage(
    ctx,
    'Device connected',
    `<h1>Device connected</h1>
<p role="status"><strong>${esc(clientName)}</strong> can now use your account with the permissions you allowed. Go back to your device: it continues by itself. You can close this page.</p>
${nextSteps([ACCOUNT, START])}`,
  );
}

export function renderDeviceDenied(ctx: Context): void {
  renderPage(
    ctx,
    'Request denied',
    `<h1>Request denied</h1>
<p role="status">Nothing was shared with the device. It is told that you said no.</p>
${nextSteps([ENTER_CODE, START])}`,
  );
}

/** Too many codes tried from this address or browser (the device-code buckets). */
export function renderDeviceLimited(ctx: Context, waitS: number): void {
  renderPage(
    ctx,
    'Too many attempts',
    `<h1>Too many attempts</h1>
<p role="alert">Too many codes were tried. Try again in ${esc(waitS)} seconds.</p>
${nextSteps([ENTER_CODE, START])}`,
    429,
  );
}
