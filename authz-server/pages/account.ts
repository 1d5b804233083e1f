import type { Context } from 'koa';
import { errorBox, esc, renderPage } from './layout.js';

/** `describedBy`: the element that explains the field (its hint or its error), for screen readers. */
const field = (id: string, label: string, type: string, autocomplete: string, value = '', invalid = false, describedBy = invalid ? 'form-error' : '') =>
  `<label for="${id}">${label}</label>\n  <input id="${id}" name="${id}" type="${type}" autocomplete="${autocomplete}" required value="${esc(value)}"${invalid ? ' aria-invalid="true"' : ''}${describedBy ? ` aria-describedby="${describedBy}"` : ''}>`;

const PASSWORD_HINT = 'At least 12 characters. A few unrelated words make a strong password; avoid your name, your email address and common passwords.';

/** The password's hint, or why it was refused with zxcvbn's advice, right below the field. */
const passwordHelp = (refusal: string | undefined) =>
  refusal ? `<p id="password-help" class="error">${esc(refusal)}</p>` : `<p id="password-help"><small>${PASSWORD_HINT}</small></p>`;

/** `passwordRefusal`: the refusal and zxcvbn's feedback, when the password was the problem. */
export interface PasswordFormError {
  error?: string;
  passwordRefusal?: string;
}

export function renderSignUp(ctx: Context, input: { name?: string; email?: string } & PasswordFormError, status = 200): void {
  const bad = Boolean(input.error) && !input.passwordRefusal;
  renderPage(
    ctx,
    'Create an account',
    `<h1>Create an account</h1>
${errorBox(input.error)}
<form method="post" action="/account/sign-up" novalidate>
  ${field('name', 'Name', 'text', 'name', input.name, bad)}
  ${field('email', 'Email', 'email', 'email', input.email, bad)}
  ${field('password', 'Password', 'password', 'new-password', '', Boolean(input.error), 'password-help')}
  ${passwordHelp(input.passwordRefusal)}
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

export function renderReset(ctx: Context, input: { token: string } & PasswordFormError, status = 200): void {
  renderPage(
    ctx,
    'Choose a new password',
    `<h1>Choose a new password</h1>
${errorBox(input.error)}
<form method="post" action="/account/reset-password" novalidate>
  <input type="hidden" name="token" value="${esc(input.token)}">
  ${field('password', 'New password', 'password', 'new-password', '', Boolean(input.error), 'password-help')}
  ${passwordHelp(input.passwordRefusal)}
  <button type="submit">Change password</button>
</form>`,
    status,
  );
}
