import type { Context } from 'koa';
import { errorBox, esc, renderPage } from './layout.js';

export interface SessionItem {
  id: string;
  current: boolean;
  userAgent: string;
  createdAt: Date;
}

export function renderAccount(ctx: Context, input: { email: string; twoFactor: boolean; sessions: SessionItem[]; notice?: string; error?: string }, status = 200): void {
  const sessions = input.sessions
    .map(
      (s) =>
        `<li>${esc(s.userAgent || 'Unknown device')} — signed in ${esc(s.createdAt.toISOString().slice(0, 16).replace('T', ' '))} UTC${
          s.current
            ? ' <strong>(this browser)</strong>'
            : ` <form method="post" action="/account/sessions/revoke" class="inline"><input type="hidden" name="id" value="${esc(s.id)}"><button type="submit" class="secondary">Sign out this session</button></form>`
        }</li>`,
    )
    .join('\n');
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
    `<h1>Your account</h1>
<p>Signed in as <strong>${esc(input.email)}</strong>.</p>
${input.notice ? `<p role="status">${esc(input.notice)}</p>` : ''}
${errorBox(input.error)}
<h2>Two-factor authentication</h2>
${twoFactor}
<h2>Sessions</h2>
<ul>
${sessions}
</ul>
<form method="post" action="/account/sign-out" class="inline-text">
  <button type="submit">Sign out</button>
</form>
<form method="post" action="/account/sign-out-everywhere" class="inline-text">
  <button type="submit" class="secondary">Sign out everywhere</button>
</form>
<p><a href="/account/forgot-password">Change your password</a></p>`,
    status,
  );
}

export function renderEnrol(ctx: Context, input: { qrDataUrl: string; totpUri: string; backupCodes: string[]; error?: string }, status = 200): void {
  renderPage(
    ctx,
    'Set up two-factor authentication',
    `<h1>Set up two-factor authentication</h1>
<p>Scan this code with your authenticator app, or enter the setup key by hand.</p>
<img src="${esc(input.qrDataUrl)}" alt="QR code for your authenticator app" width="200" height="200">
<p><label for="otpauth">Setup link</label><input id="otpauth" readonly value="${esc(input.totpUri)}"></p>
<p>Backup codes — each works once if you lose your device. Store them somewhere safe:</p>
<ul id="backup-codes">
${input.backupCodes.map((c) => `<li><code>${esc(c)}</code></li>`).join('\n')}
</ul>
${errorBox(input.error)}
<form method="post" action="/account/2fa/verify" novalidate>
  <label for="code">Authentication code</label>
  <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" required maxlength="6">
  <button type="submit">Turn on</button>
</form>`,
    status,
  );
}
