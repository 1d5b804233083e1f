import type { Context } from 'koa';
import { errorBox, esc, renderPage } from './layout.js';

const field = (id: string, label: string, type: string, autocomplete: string, value = '', invalid = false) =>
  `<label for="${id}">${label}</label>\n  <input id="${id}" name="${id}" type="${type}" autocomplete="${autocomplete}" required value="${esc(value)}"${invalid ? ' aria-invalid="true" aria-describedby="form-error"' : ''}>`;

export function renderSignUp(ctx: Context, input: { name?: string; email?: string; error?: string }, status = 200): void {
  const bad = Boolean(input.error);
  renderPage(
    ctx,
    'Create an account',
    `<h1>Create an account</h1>
${errorBox(input.error)}
<form method="post" action="/account/sign-up" novalidate>
  ${field('name', 'Name', 'text', 'name', input.name, bad)}
  ${field('email', 'Email', 'email', 'email', input.email, bad)}
  ${field('password', 'Password', 'password', 'new-password', '', bad)}
  <p><small>At least 12 characters.</small></p>
  <button type="submit">Create account</button>
</form>`,
    status,
  );
}

export function renderForgot(ctx: Context, input: { email?: string; error?: string }, status = 200): void {
  renderPage(
    ctx,
    'Reset your password',
    `<h1>Reset your password</h1>
${errorBox(input.error)}
<form method="post" action="/account/forgot-password" novalidate>
  ${field('email', 'Email', 'email', 'email', input.email, Boolean(input.error))}
  <button type="submit">Send reset link</button>
</form>`,
    status,
  );
}

export function renderReset(ctx: Context, input: { token: string; error?: string }, status = 200): void {
  renderPage(
    ctx,
    'Choose a new password',
    `<h1>Choose a new password</h1>
${errorBox(input.error)}
<form method="post" action="/account/reset-password" novalidate>
  <input type="hidden" name="token" value="${esc(input.token)}">
  ${field('password', 'New password', 'password', 'new-password', '', Boolean(input.error))}
  <button type="submit">Change password</button>
</form>`,
    status,
  );
}
