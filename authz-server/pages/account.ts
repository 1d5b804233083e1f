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

/** The fields of the sign-up form, plus `form` for a problem with no field of its own. */
export type SignUpErrors = Partial<Record<'name' | 'email' | 'password' | 'form', string>>;

/** A field's own error right below it, for the field's aria-describedby. */
const fieldError = (id: string, message: string | undefined) => (message ? `\n  <p id="${id}-error" class="field-error">${esc(message)}</p>` : '');

/**
 * Every field's error at once, each below its field (and named by its aria-describedby); the
 * summary on top repeats a single error, or counts several. `returnTo`: the sign-in this
 * sign-up came from (an interaction), offered again once the account exists.
 */
export function renderSignUp(ctx: Context, input: { name?: string; email?: string; errors?: SignUpErrors; passwordRefusal?: string; returnTo?: string }, status = 200): void {
  const errors = input.errors ?? {};
  const messages = Object.values(errors).filter(Boolean);
  const summary = messages.length > 1 ? `Check the ${messages.length} problems below.` : messages[0];
  const signIn = input.returnTo ?? '/account/sign-in';
  renderPage(
    ctx,
    'Create an account',
    `<h1>Create an account</h1>
${errorBox(summary)}
<form method="post" action="/account/sign-up" novalidate>
  ${input.returnTo ? `<input type="hidden" name="return_to" value="${esc(input.returnTo)}">\n  ` : ''}${field('name', 'Name', 'text', 'name', input.name, Boolean(errors.name), errors.name ? 'name-error' : '')}${fieldError('name', errors.name)}
  ${field('email', 'Email', 'email', 'email', input.email, Boolean(errors.email), errors.email ? 'email-error' : '')}${fieldError('email', errors.email)}
  ${field('password', 'Password', 'password', 'new-password', '', Boolean(errors.password), 'password-help')}
  ${passwordHelp(errors.password ? (input.passwordRefusal ?? errors.password) : undefined)}
  <button type="submit">Create account</button>
</form>
<p>Already have an account? <a href="${esc(signIn)}">Sign in</a></p>`,
    status,
  );
}

/** The address to send a new confirmation link to (the answer is the same for any address). */
export function renderConfirmEmail(ctx: Context, input: { email?: string; error?: string }, status = 200): void {
  renderPage(
    ctx,
    'Send the confirmation link again',
    `<h1>Send the confirmation link again</h1>
<p>Enter the address you signed up with. If it belongs to an account that is not confirmed yet, we send it a new link.</p>
${errorBox(input.error)}
<form method="post" action="/account/confirm-email" novalidate>
  ${field('email', 'Email', 'email', 'email', input.email, Boolean(input.error))}
  <button type="submit">Send the link</button>
</form>
<p><a href="/account/sign-in">Back to sign-in</a></p>`,
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
</form>
<p><a href="/account/sign-in">Back to sign-in</a></p>`,
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
