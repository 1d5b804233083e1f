import type { Context } from 'koa';
import { TOTP } from '#shared/auth/assurance.js';
import { errorBox, esc, renderPage } from './layout.js';
import { describeDevice } from './device.js';

export interface SessionItem {
  id: string;
  current: boolean;
  userAgent: string;
  createdAt: Date;
}

const signedInAt = (d: Date) => `Signed in ${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

function sessionItem(s: SessionItem): string {
  const device = `<strong>${esc(describeDevice(s.userAgent))}</strong>`;
  if (s.current) return `<li>${device} — this device <span class="muted">(this browser)</span><br><span class="muted">${signedInAt(s.createdAt)}</span></li>`;
  return `<li>${device}<br><span class="muted">${signedInAt(s.createdAt)}</span>
<form method="post" action="/account/sessions/revoke"><input type="hidden" name="id" value="${esc(s.id)}"><button type="submit" class="secondary">Sign out this session</button></form></li>`;
}

/** `backTo`: the marketplace the person came from (FRONTEND_URL). */
export function renderAccount(ctx: Context, input: { email: string; twoFactor: boolean; sessions: SessionItem[]; backTo?: string; notice?: string; error?: string }, status = 200): void {
  const twoFactor = input.twoFactor
    ? `<p>Two-factor authentication is <strong>on</strong>.</p>
<form method="post" action="/account/2fa/disable">
  <label for="disable-password">Password</label>
  <input id="disable-password" name="password" type="password" autocomplete="current-password" required>
  <button type="submit" class="secondary">Turn off two-factor authentication</button>
</form>`
    : `<p>Two-factor authentication is <strong>off</strong>.</p>
<form method="post" action="/account/2fa/enable">
  <label for="enable-password">Password</label>
  <input id="enable-password" name="password" type="password" autocomplete="current-password" required>
  <button type="submit">Set up two-factor authentication</button>
</form>`;
  renderPage(
    ctx,
    'Your account',
    `${input.backTo ? `<p><a href="${esc(input.backTo)}">← Back to the marketplace</a></p>\n` : ''}<h1>Your account</h1>
<p>Signed in as <strong>${esc(input.email)}</strong>.</p>
${input.notice ? `<p role="status">${esc(input.notice)}</p>` : ''}
${errorBox(input.error)}
<h2>Two-factor authentication</h2>
${twoFactor}
<h2>Sessions</h2>
<ul class="sessions">
${input.sessions.map(sessionItem).join('\n')}
</ul>
<div class="actions">
<form method="post" action="/account/sign-out"><button type="submit">Sign out</button></form>
<form method="post" action="/account/sign-out-everywhere"><button type="submit" class="secondary">Sign out everywhere</button></form>
</div>
<h2>Password</h2>
<p><a href="/account/forgot-password">Change your password</a></p>`,
    status,
  );
}

/** Groups a base32 key by four for reading it off the screen (authenticator apps ignore spaces). */
const grouped = (key: string) => key.replace(/(.{4})(?=.)/g, '$1 ');

/**
 * The enrolment page, also after a wrong code: the same QR code, key and backup codes, read
 * again from better-auth's pending setup (accounts/totp-setup.ts), so the person can retry.
 */
export function renderEnrol(ctx: Context, input: { qrDataUrl: string; totpUri: string; backupCodes: string[]; error?: string }, status = 200): void {
  const key = new URL(input.totpUri).searchParams.get('secret') ?? '';
  const invalid = input.error ? ' aria-invalid="true" aria-describedby="form-error"' : '';
  renderPage(
    ctx,
    'Set up two-factor authentication',
    `<h1>Set up two-factor authentication</h1>
<p>Scan this code with your authenticator app, or enter the setup key by hand.</p>
<img src="${esc(input.qrDataUrl)}" alt="QR code for your authenticator app" width="200" height="200">
<p><strong>Setup key</strong><br><code id="setup-key" class="key">${esc(grouped(key))}</code></p>
<p><label for="otpauth">Setup link</label><input id="otpauth" readonly value="${esc(input.totpUri)}"></p>
<p>Backup codes — each works once if you lose your device. Store them somewhere safe:</p>
<ul id="backup-codes">
${input.backupCodes.map((c) => `<li><code>${esc(c)}</code></li>`).join('\n')}
</ul>
${errorBox(input.error)}
<form method="post" action="/account/2fa/verify" novalidate>
  <label for="code">Authentication code</label>
  <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required maxlength="${TOTP.digits}"${invalid}>
  <button type="submit">Turn on</button>
</form>
<p><a href="/account">Cancel and go back to your account</a></p>`,
    status,
  );
}
