import { randomUUID } from 'node:crypto';
import * as oidc from 'openid-client';
import * as OTPAuth from 'otpauth';
import { startSystem, type System, type Service, type Backend } from '../helpers/system.js';
import { PG_SKIP_REASON, PG_URL, describeWithService } from '../helpers/services.js';
import { HttpBrowser } from '../helpers/http-browser.js';
import type { Proc } from '../helpers/process.js';
import { insertListing } from '../helpers/listings.js';
import { signedEvent, stripeEvent, type FakeStripe } from '../helpers/fake-stripe.js';
import { PASSWORD, REDIRECT, discover, signedInTokens } from '../authz-server/oidc.flow.js';
import { eventSettled } from '../resource-api/billing/webhook-queue.helpers.js';

export { PASSWORD, REDIRECT };
export const FRONTEND = 'https://app.example.com';
export const WEBHOOK_SECRET = 'whsec_security_suite_webhook_secret';
export const API_SCOPES = 'listings:read listings:write reviews:write checkout:create usage:report usage:read';

export interface ApiAnswer {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- bodies are asserted field by field
  body: any;
}

/**
 * The system as an attacker meets it (test/helpers/system.ts, spawned): an authz-server process and a resource-api process on one
 * database (SQLite by default), talking to a fake Stripe on loopback, with a public agent client
 * ('agent') registered the way the admin CLI registers it. Everything goes over real HTTP.
 */
export async function startStack(opts: { backend?: Backend; pgUrl?: string; env?: Record<string, string>; audienceIsApiUrl?: boolean } = {}) {
  // A failed start leaves nothing behind: startSystem cleans up its own, and a failure after it closes the system.
  const env: System = await startSystem({
    backend: opts.backend ?? 'sqlite',
    ...(opts.pgUrl ? { pgUrl: opts.pgUrl } : {}),
    hosting: 'process',
    authz: 1,
    api: 1,
    // API_AUDIENCE (the public URL) is not where the API listens, as behind a reverse proxy, unless
    // `audienceIsApiUrl`: then the metadata URLs its challenges name can be followed (what MCP clients do).
    audienceIsApiUrl: opts.audienceIsApiUrl ?? false,
    stripe: true,
    env: { FRONTEND_URL: `${FRONTEND},http://localhost:3000`, STRIPE_SECRET_KEY: 'sk_test_security_suite', STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, ...opts.env },
  });
  try {
    return await build();
  } catch (err) {
    await env.close().catch(() => undefined); // the start's own error is the one to report
    throw err;
  }

  async function build() {
    const authz: Service = env.authz[0]!;
    const apiProc: Proc = env.api[0]!.proc;
    const stripe: FakeStripe = env.stripe!;
    await env.createClient({ clientId: 'agent', name: 'Agent', type: 'public', redirectUris: [REDIRECT], scopes: ['openid', 'offline_access', 'email', ...API_SCOPES.split(' ')] });
    const client: oidc.Configuration = await discover(authz.issuer, 'agent');
    const apiUrl = env.apiUrl;
    const issuer = authz.issuer;

    const stack = {
      env,
      authz,
      issuer,
      apiUrl,
      apiProc,
      stripe,
      client,
      db: env.db,
      /** A verified account with the suite's password; unique addresses keep files independent. */
      user: (email: string, role = 'user') => env.createUser({ email, password: PASSWORD, role }),
      /** Signs in through the real front channel (login form, consent) and redeems the code. */
      tokens: (email: string, scope = `openid offline_access ${API_SCOPES}`, browser = new HttpBrowser()) => signedInTokens(client, browser, { email, scope }),
      /** A browser holding the better-auth session cookie of `email`. */
      async signedIn(email: string): Promise<HttpBrowser> {
        const browser = new HttpBrowser();
        await signedInTokens(client, browser, { email, scope: 'openid' });
        return browser;
      },
      /**
       * A verified account that turned on two-factor authentication through its account page
       * (password, then the first code): its TOTP generator and the signed-in browser.
       */
      async twoFactorUser(email: string): Promise<{ userId: string; totp: OTPAuth.TOTP; browser: HttpBrowser }> {
        const userId = await env.createUser({ email, password: PASSWORD });
        const browser = new HttpBrowser();
        await signedInTokens(client, browser, { email, scope: 'openid' });
        await browser.request(`${issuer}/account`);
        const enrol = await browser.request(`${issuer}/account/2fa/enable`, { form: { password: PASSWORD } });
        const uri = /id="otpauth" readonly value="([^"]+)"/.exec(enrol.text)?.[1]?.replace(/&amp;/g, '&');
        if (!uri?.startsWith('otpauth://totp/')) throw new Error(`no otpauth URI on the enrolment page (${enrol.status}): ${enrol.text.slice(0, 300)}`);
        const totp = OTPAuth.URI.parse(uri) as OTPAuth.TOTP;
        const on = await browser.request(`${issuer}/account/2fa/verify`, { form: { code: totp.generate() } });
        if (on.status !== 303 || on.location !== `${issuer}/account?notice=2fa-on`) throw new Error(`two-factor enrolment not confirmed: ${on.status} ${on.location}`);
        return { userId, totp, browser };
      },
      /** The Cookie header a thief would replay: the session cookie alone. */
      async sessionCookie(browser: HttpBrowser): Promise<string> {
        const jar = await browser.jar.getCookies(issuer);
        return jar.filter((c) => c.key.endsWith('session_token')).map((c) => `${c.key}=${c.value}`).join('; ');
      },
      async api(method: string, path: string, o: { token?: string; cookie?: string; json?: unknown; headers?: Record<string, string> } = {}): Promise<ApiAnswer> {
        const headers: Record<string, string> = { ...o.headers };
        if (o.token) headers.authorization = `Bearer ${o.token}`;
        if (o.cookie) headers.cookie = o.cookie;
        if (o.json !== undefined) headers['content-type'] ??= 'application/json';
        const res = await fetch(`${apiUrl}${path}`, { method, headers, body: o.json === undefined ? undefined : typeof o.json === 'string' ? o.json : JSON.stringify(o.json) });
        const text = await res.text();
        let body: unknown = null;
        try {
          body = text ? JSON.parse(text) : null;
        } catch {
          body = text;
        }
        return { status: res.status, headers: res.headers, text, body };
      },
      /** A published listing priced at 9.00 EUR granting `units` once. */
      async listing(units = 100): Promise<string> {
        const id = randomUUID();
        const publisherId = await env.createUser({ email: `publisher-${id}@example.com`, password: PASSWORD, role: 'publisher' });
        return insertListing(env.db, { id, publisherId, slug: `agent-${id}`, title: 'Research agent', summary: 'Finds things', description: 'Finds things well.', quotaUnits: units });
      },
      /**
       * Delivers a Stripe event to the API process as Stripe does: raw JSON, signed. An event the
       * answer says is `queued` is applied by the API's worker afterwards: this waits (bounded)
       * until the worker has made its attempt, so the next request sees what the event granted.
       */
      async deliver(event: Record<string, unknown>, o: { secret?: string; timestamp?: number; signature?: string | null; body?: string } = {}): Promise<ApiAnswer> {
        const signed = signedEvent(o.secret ?? WEBHOOK_SECRET, event, o.timestamp === undefined ? {} : { timestamp: o.timestamp });
        const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
        const signature = o.signature === undefined ? signed.signature : o.signature;
        if (signature !== null) headers['stripe-signature'] = signature;
        const answer = await stack.api('POST', '/v1/webhooks/stripe', { headers, json: o.body ?? signed.payload });
        if (answer.status === 200 && answer.body?.outcome === 'queued') await eventSettled(env.db, event.id as string);
        return answer;
      },
      /** A paid one-time purchase of `listingId` by `userId`, as Stripe reports it. */
      purchase(userId: string, listingId: string): Record<string, unknown> {
        const id = `cs_test_${randomUUID().replaceAll('-', '')}`;
        return stripeEvent('checkout.session.completed', {
          id, object: 'checkout.session', mode: 'payment', status: 'complete', payment_status: 'paid', created: Math.floor(Date.now() / 1000),
          client_reference_id: userId, metadata: { user_id: userId, listing_id: listingId }, customer: `cus_${userId.slice(0, 8)}`,
          subscription: null, payment_intent: `pi_${id}`, customer_details: { email: 'buyer@example.com' }, url: null,
        });
      },
      async count(table: string, where: Record<string, unknown> = {}): Promise<number> {
        const [row] = await env.db(table).where(where).count({ n: '*' });
        return Number(row!.n);
      },
      /** Everything both processes printed so far. */
      output: () => authz.proc.output() + apiProc.output(),
      /** Stops the API process, the authz-server, the database handle and the fake Stripe. */
      close: () => env.close(),
    };
    return stack;
  }
}

export type Stack = Awaited<ReturnType<typeof startStack>>;

const shared = new Map<Backend, Promise<Stack>>();

/**
 * One stack per backend for the whole security suite (starting processes is most of its cost
 * on two cores). Each file uses its own accounts. Stopped once, after every file has run.
 */
export function sharedStack(backend: Backend = 'sqlite'): Promise<Stack> {
  let stack = shared.get(backend);
  if (!stack) {
    stack = startStack(backend === 'pg' ? { backend, pgUrl: PG_URL } : {});
    shared.set(backend, stack);
  }
  return stack;
}

/**
 * Runs `fn` once per backend against that backend's shared stack: SQLite always, PostgreSQL
 * when DATABASE_URL is set (reported as skipped, with the reason, when it is not).
 */
export function describeEachBackend(title: string, fn: (stack: () => Stack, backend: Backend) => void): void {
  const body = (backend: Backend) => () => {
    let s: Stack | undefined;
    before(async function () {
      this.timeout(90_000);
      s = await sharedStack(backend);
    });
    fn(() => s!, backend);
  };
  describe(`${title} (SQLite)`, body('sqlite'));
  describeWithService(`${title} (PostgreSQL)`, PG_URL, PG_SKIP_REASON, () => body('pg')());
}

after(async function () {
  this.timeout(30_000);
  const stacks = [...shared.values()];
  shared.clear();
  for (const s of stacks) await (await s.catch(() => undefined))?.close();
});

/** Expects the API's error envelope with exactly this status and code. */
export function errorOf(res: ApiAnswer): [number, string | undefined] {
  return [res.status, res.body?.error?.code];
}

/** Every `Set-Cookie` of a response, parsed into name and lower-cased attributes. */
export function setCookies(headers: Headers): { name: string; value: string; attrs: Record<string, string | true> }[] {
  return headers.getSetCookie().map((line) => {
    const [pair, ...rest] = line.split(';').map((s) => s.trim());
    const eq = pair!.indexOf('=');
    const attrs: Record<string, string | true> = {};
    for (const a of rest) {
      const i = a.indexOf('=');
      if (i === -1) attrs[a.toLowerCase()] = true;
      else attrs[a.slice(0, i).toLowerCase()] = a.slice(i + 1);
    }
    return { name: pair!.slice(0, eq), value: pair!.slice(eq + 1), attrs };
  });
}
