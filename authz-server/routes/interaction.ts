import Router from '@koa/router';
import type Provider from 'oidc-provider';
import type { Container } from '#shared/container.js';
import type { AuthzLimits } from '../rate-limits.js';
import { koaForm } from '../pages/koa-form.js';
import { promptPage } from '../interaction/prompt.js';
import { loginForm } from '../interaction/login.js';
import { twoFactorForm } from '../interaction/two-factor.js';
import { consentAnswerForm } from '../interaction/consent.js';
import { switchAccountForm } from '../interaction/switch-account.js';

/**
 * Sign-in hand-off: the provider sends the browser to /interaction/:uid; we authenticate with
 * better-auth (its own session cookie gives single sign-on), ask for consent, and hand the
 * result back with a 303. Each form is an array of named steps (authz-server/interaction/).
 */
export function interactionRoutes(provider: Provider, c: Pick<Container, 'auth' | 'config' | 'audit' | 'db' | 'storageFailures'>, limits: AuthzLimits): Router {
  const router = new Router({ prefix: '/interaction/:uid' });
  const body = koaForm(c.config.authz.issuer, { limitBytes: 16 * 1024 });
  const deps = { provider, c, limits };

  router.get('/', promptPage(deps));
  router.post('/login', body, loginForm(deps));
  router.post('/totp', body, twoFactorForm(deps));
  router.post('/consent', body, consentAnswerForm(deps));
  router.post('/switch-account', body, switchAccountForm(deps));
  return router;
}
