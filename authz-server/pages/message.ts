import type { Context } from 'koa';
import { esc, nextSteps, renderPage, type Link } from './layout.js';

export const SIGN_IN: Link = { href: '/account/sign-in', text: 'Sign in to your account' };
export const START: Link = { href: '/', text: 'Go to the Portcullis start page' };

/**
 * Error and information pages (never a redirect to an unverified URI). Every one offers a next
 * step: the links given, else signing in (information) or the start page (errors).
 */
export function renderMessage(ctx: Context, title: string, message: string, status = 200, links?: Link[]): void {
  const next = links ?? (status >= 400 ? [START] : [SIGN_IN, START]);
  renderPage(ctx, title, `<h1>${esc(title)}</h1>\n<p role="${status >= 400 ? 'alert' : 'status'}">${esc(message)}</p>\n${nextSteps(next)}`, status);
}

/** A catalog error that is a page of its own (an entry with a title: forms/refusal.ts). */
export function renderRefusal(ctx: Context, refused: { title?: string | undefined; message: string; status: number }, links?: Link[]): void {
  renderMessage(ctx, refused.title ?? 'Error', refused.message, refused.status, links);
}
