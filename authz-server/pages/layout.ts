import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import { csrfToken } from './csrf.js';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and quoted attribute values. */
export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

const STYLE = `
body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
main{max-width:26rem;margin:8vh auto;background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002}
@media (max-width:30rem){main{margin:1rem;padding:1.25rem}}
h1{font-size:1.4rem;line-height:1.3;margin:0 0 1rem}
h2{font-size:1.1rem;line-height:1.3;margin:1.5rem 0 .5rem}
a{color:#2a54c7}
label{display:block;font-weight:600;margin:1rem 0 .25rem}
input{width:100%;box-sizing:border-box;padding:.6rem;font-size:1rem;border:1px solid #8a93a6;border-radius:4px}
input:focus,button:focus,a:focus{outline:3px solid #4c7bf4;outline-offset:1px}
button{margin-top:1.25rem;padding:.6rem 1.2rem;font-size:1rem;border-radius:4px;border:0;background:#2a54c7;color:#fff;cursor:pointer}
button.secondary{background:#e3e6ec;color:#1d2330}
.error{background:#fde8e8;color:#8a1c1c;padding:.75rem;border-radius:4px}
.field-error,p.error:not([role]){color:#8a1c1c;background:none;padding:0;margin:.25rem 0 0}
ul{padding-left:1.2rem}
.actions{display:flex;flex-wrap:wrap;gap:.75rem;align-items:center;margin-top:1.25rem}
.actions form{margin:0}
.actions button{margin:0}
.sessions{list-style:none;padding:0}
.sessions li{padding:.6rem 0;border-bottom:1px solid #e3e6ec}
.sessions form{margin:.4rem 0 0}
.sessions button{margin:0;padding:.3rem .7rem;font-size:.9rem}
.muted{color:#4a5263}
form.inline-text{margin:0}
button.link{background:none;border:0;padding:0;margin:0;color:#2a54c7;text-decoration:underline;font-size:.95rem}
.key{font-family:ui-monospace,monospace;letter-spacing:.05em}
.next{margin-top:1.5rem}
.next ul{list-style:none;padding:0;margin:0}
.next li{margin:.35rem 0}
details{margin-top:1.5rem;font-size:.9rem}
summary{cursor:pointer}
code{overflow-wrap:anywhere}`;

/**
 * Every page: no external assets, no script, a per-response nonce for the one style block,
 * and a CSP that forbids framing (RFC 9700 §4.16). No form-action directive: Chromium applies
 * it to the redirect chain after a POST, which ends at the client's redirect URI.
 */
export function renderPage(ctx: Context, title: string, body: string, status = 200): void {
  const nonce = randomBytes(16).toString('base64');
  // Every form posting back carries the synchronizer token (pages/koa-form.ts checks it).
  if (body.includes('<form method="post"')) {
    const token = esc(csrfToken(ctx));
    body = body.replace(/<form method="post"[^>]*>/g, (open) => `${open}\n<input type="hidden" name="_csrf" value="${token}">`);
  }
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.set('Cache-Control', 'no-store');
  ctx.set('Content-Security-Policy', `default-src 'none'; style-src 'nonce-${nonce}'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'`);
  ctx.body = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>${esc(title)} · Portcullis</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>`;
}

/** A link a page offers as the next step. */
export interface Link {
  href: string;
  text: string;
}

/** The next steps of a page, as a list of links. */
export function nextSteps(links: Link[]): string {
  if (!links.length) return '';
  return `<nav class="next" aria-label="Next steps"><ul>\n${links.map((l) => `<li><a href="${esc(l.href)}">${esc(l.text)}</a></li>`).join('\n')}\n</ul></nav>`;
}

/** An error summary screen readers announce as soon as the page loads. */
export function errorBox(message: string | undefined): string {
  return message ? `<p class="error" role="alert" id="form-error">${esc(message)}</p>` : '';
}
