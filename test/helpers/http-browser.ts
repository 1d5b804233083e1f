import { CookieJar } from 'tough-cookie';

export interface Page {
  status: number;
  url: string;
  location: string | null;
  headers: Headers;
  text: string;
}

/**
 * A minimal browser over fetch: a real cookie jar (tough-cookie), manual redirects, and
 * form posts. Enough to walk the OAuth front channel without a GUI.
 */
export class HttpBrowser {
  readonly jar = new CookieJar();
  /** The last form token each origin's pages carried (a browser submits the form's hidden field). */
  private readonly csrf = new Map<string, string>();

  /**
   * Like a browser: a form post sends `Origin` (same-origin included) and the page's hidden
   * `_csrf` field, unless the test gives its own (`_csrf: ''` sends none).
   */
  async request(url: string, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Page> {
    const origin = new URL(url).origin;
    const headers: Record<string, string> = { accept: 'text/html', ...(init.form ? { origin } : {}), ...init.headers };
    const cookie = await this.jar.getCookieString(url);
    if (cookie) headers.cookie = cookie;
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      const token = this.csrf.get(origin);
      const form = { ...(token ? { _csrf: token } : {}), ...init.form };
      if (form._csrf === '') delete form._csrf;
      body = new URLSearchParams(form).toString();
    }
    const res = await fetch(url, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    for (const c of res.headers.getSetCookie()) await this.jar.setCookie(c, url, { ignoreError: true });
    const location = res.headers.get('location');
    const text = await res.text();
    const token = /name="_csrf" value="([^"]+)"/.exec(text)?.[1];
    if (token) this.csrf.set(origin, token);
    return { status: res.status, url, location: location ? new URL(location, url).toString() : null, headers: res.headers, text };
  }

  /** Follows redirects while they stay on `origin`; returns the first page elsewhere or not a redirect. */
  async follow(start: Page, origin: string, max = 10): Promise<Page> {
    let page = start;
    for (let i = 0; i < max && page.location && new URL(page.location).origin === origin; i++) page = await this.request(page.location);
    return page;
  }

  async get(url: string, origin: string): Promise<Page> {
    return this.follow(await this.request(url), origin);
  }

  async submit(page: Page, formAction: RegExp, fields: Record<string, string>, origin: string): Promise<Page> {
    const m = formAction.exec(page.text);
    if (!m) throw new Error(`no form matching ${formAction} on ${page.url} (${page.status}):\n${page.text.slice(0, 500)}`);
    const action = new URL(m[1]!.replace(/&amp;/g, '&'), page.url).toString();
    return this.follow(await this.request(action, { form: fields }), origin);
  }
}

export const LOGIN_FORM = /<form method="post" action="([^"]*\/login)"/;
export const CONSENT_FORM = /<form method="post" action="([^"]*\/consent)"/;
