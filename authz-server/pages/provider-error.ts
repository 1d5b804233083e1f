import type { Context } from 'koa';
import { esc, nextSteps, renderPage } from './layout.js';
import { START } from './message.js';

interface Explained {
  title: string;
  /** What happened and what the person can do about it. */
  text: string;
}

const BROKEN_LINK: Explained = {
  title: 'This sign-in link does not work',
  text: 'The application that sent you here asked for something we cannot do. Go back to the application and try again; if it keeps happening, tell the application\'s developer.',
};

/** oidc-provider's error codes (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6) in words for people. */
const EXPLAINED: Record<string, Explained> = {
  invalid_redirect_uri: { title: 'This application is not set up correctly', text: 'The application sent you here with a return address it has not registered, so we cannot send you back to it. Tell the application\'s developer.' },
  invalid_client: { title: 'Unknown application', text: 'The application that sent you here is not registered with Portcullis. Tell the application\'s developer.' },
  unauthorized_client: { title: 'This application may not sign you in this way', text: 'The application asked for a kind of sign-in it is not allowed to use. Tell the application\'s developer.' },
  access_denied: { title: 'Access denied', text: 'The request was refused. Go back to the application to try again.' },
  login_required: { title: 'Sign in first', text: 'The application needs you to sign in. Go back to the application and sign in from there.' },
  consent_required: { title: 'Your permission is needed', text: 'The application needs your permission. Go back to the application and try again.' },
  interaction_required: { title: 'Your confirmation is needed', text: 'The application needs you to confirm this sign-in. Go back to the application and try again.' },
  session_not_found: { title: 'This sign-in has expired', text: 'The sign-in took too long or was already finished. Go back to the application and start again.' },
  invalid_request: BROKEN_LINK,
  invalid_scope: BROKEN_LINK,
  invalid_target: BROKEN_LINK,
  unsupported_response_type: BROKEN_LINK,
  unsupported_response_mode: BROKEN_LINK,
  invalid_request_object: BROKEN_LINK,
  invalid_request_uri: BROKEN_LINK,
  request_not_supported: BROKEN_LINK,
  request_uri_not_supported: BROKEN_LINK,
  registration_not_supported: BROKEN_LINK,
  temporarily_unavailable: { title: 'Temporarily unavailable', text: 'The service is busy or restarting. Try again in a moment.' },
  server_error: { title: 'Something went wrong on our side', text: 'We could not finish this request. Try again in a moment; if it keeps happening, contact support with the request id below.' },
};

/**
 * oidc-provider's error page (its `renderError`): a title and next step for the person, the
 * request id to quote to support, and the provider's own words for the developer, folded away.
 * The client's redirect URI is never linked: when this page shows, it is unverified.
 */
export function renderProviderError(ctx: Context, out: { error: string; error_description?: string }, status: number): void {
  const explained = EXPLAINED[out.error] ?? (status >= 500 ? EXPLAINED.server_error! : BROKEN_LINK);
  const requestId = String(ctx.state.requestId ?? '');
  renderPage(
    ctx,
    explained.title,
    `<h1>${esc(explained.title)}</h1>
<p role="alert">${esc(explained.text)}</p>
${requestId ? `<p class="muted">Request id: <code>${esc(requestId)}</code></p>` : ''}
${nextSteps([{ href: '/account', text: 'Go to your account' }, START])}
<details>
<summary>Details for the application's developer</summary>
<p><code>${esc(out.error)}</code>${out.error_description ? `: ${esc(out.error_description)}` : ''}</p>
</details>`,
    status,
  );
}
