/**
 * GET, POST /T/activate (alias /T/device): the verification page of the
 * device flow (RFC 8628 §3.3, DESIGN.md §7). It translates HTTP for
 * oauth/device/device-approval.ts and renders its outcomes:
 *
 * - GET: the code form (`?user_code=` pre-fills it, still to be confirmed);
 *   GET `?tx=`: the decision page, after the sign-in;
 * - POST `user_code`: 303 to the sign-in (`/T/login?tx=`), or to the
 *   decision page when the browser is signed in; a wrong code shows the form
 *   again; past 10 wrong codes from one IP in 10 minutes, 429;
 * - POST `tx` + `action=confirm|deny`: the answer, then a page saying what
 *   happens on the device.
 *
 * Registered inside the pages' context (page-kit.ts: headers, CSRF, error
 * pages); every POST passes the CSRF check first.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Catalog, Tenant } from '../../domain/tenant.js';
import { SESSION_COOKIE } from '../../oauth/browser/browser-sessions.js';
import type { Decision, DeviceApproval, DeviceRequestDetails, Review, SettledReason } from '../../oauth/device/device-approval.js';
import { formatUserCode, normaliseUserCode } from '../../oauth/device/user-codes.js';
import { requestOrigin } from '../request-origin.js';
import { tenantOf } from '../tenant.js';
import { csrfToken, formParameters, frame, queryParameters, sendPage } from './page-kit.js';
import { DECIDE, ENTER_CODE } from './templates/activate.js';
import { defineView, messageView } from './views.js';

export interface ActivatePagesDeps {
  catalog: Catalog;
  deviceApproval: DeviceApproval;
}

/** `activate` is the verification_uri; `device` is the alias people type (Auth0's and Microsoft's own pages are /device). */
const PATHS = ['activate', 'device'] as const;

interface EnterCodeData {
  action: string;
  csrf: string;
  userCode: string;
  prefilled: boolean;
  alert?: string;
}

interface DecideData {
  action: string;
  csrf: string;
  tx: string;
  appName: string;
  username: string;
  userCode: string;
  scopes: string[];
  audience: string | undefined;
  requestIp: string;
  userAgent: string;
  requestedAt: string;
}

const enterCodeView = defineView<EnterCodeData>('activate', ENTER_CODE);
const decideView = defineView<DecideData>('activate-decide', DECIDE);

export const activatePages: FastifyPluginAsync<ActivatePagesDeps> = async (app, { catalog, deviceApproval }) => {
  for (const path of PATHS) {
    app.get(`/:tenant/${path}`, async (request, reply) => {
      const tenant = tenantOf(request, catalog);
      const query = queryParameters(request);
      const tx = query.get('tx');
      if (tx !== undefined) return showReview(reply, tenant, path, await deviceApproval.review(tenant, tx, sessionCookie(request)));
      const given = query.get('user_code');
      const normalised = normaliseUserCode(given);
      // A code from verification_uri_complete is shown as the device shows it; anything else as it came (escaped).
      const userCode = normalised === undefined ? (given ?? '').slice(0, 32) : formatUserCode(normalised);
      return enterCodePage(reply, tenant, path, { userCode, prefilled: given !== undefined });
    });

    app.post(`/:tenant/${path}`, { preHandler: app.csrfProtection }, async (request, reply) => {
      const tenant = tenantOf(request, catalog);
      const form = formParameters(request);
      const ip = requestOrigin(request.raw, tenant).networkIp();
      const tx = form.get('tx');
      if (tx !== undefined) {
        const decision = await deviceApproval.decide(tenant, tx, form.get('action'), ip, sessionCookie(request));
        return showDecision(reply, tenant, decision);
      }
      const typed = form.get('user_code');
      const entry = await deviceApproval.enterCode(tenant, typed, ip, sessionCookie(request));
      const again = { userCode: (typed ?? '').slice(0, 32), prefilled: false };
      switch (entry.kind) {
        case 'found':
          return reply.redirect(entry.signIn ? signInUrl(tenant, entry.tx) : reviewUrl(tenant, path, entry.tx), 303);
        case 'malformed':
          return enterCodePage(reply.code(400), tenant, path, {
            ...again,
            alert: 'A code is 8 letters, like BCDF-GHJK. Check it and try again.',
          });
        case 'wrong':
          return enterCodePage(reply.code(400), tenant, path, {
            ...again,
            alert: 'That code is not valid or has expired. Check the code on your device and try again.',
          });
        case 'too_many':
          reply.header('retry-after', String(entry.retryAfterSeconds));
          return enterCodePage(reply.code(429), tenant, path, {
            ...again,
            alert: `Too many wrong codes were entered from your network. Wait ${minutes(entry.retryAfterSeconds)} and try again.`,
          });
      }
    });
  }
};

function sessionCookie(request: FastifyRequest): string | undefined {
  return request.cookies[SESSION_COOKIE];
}

/** The issuer's path (`/T/`, or below a public_url with a path): forms post back to the page they came from. */
function pagePath(tenant: Tenant, path: string): string {
  return `${new URL(tenant.endpoints.issuer).pathname}${path}`;
}

const signInUrl = (tenant: Tenant, tx: string): string => `${tenant.endpoints.issuer}login?tx=${encodeURIComponent(tx)}`;
const reviewUrl = (tenant: Tenant, path: string, tx: string): string => `${tenant.endpoints.issuer}${path}?tx=${encodeURIComponent(tx)}`;

function enterCodePage(
  reply: FastifyReply,
  tenant: Tenant,
  path: string,
  data: { userCode: string; prefilled: boolean; alert?: string },
): FastifyReply {
  const html = enterCodeView({
    ...frame(tenant, data.prefilled ? 'Confirm your device' : 'Connect a device'),
    action: pagePath(tenant, path),
    csrf: csrfToken(reply, tenant),
    ...data,
  });
  return sendPage(reply, html);
}

function showReview(reply: FastifyReply, tenant: Tenant, path: string, review: Review): FastifyReply {
  if (review.kind === 'sign_in') return reply.redirect(signInUrl(tenant, review.tx), 303);
  if (review.kind === 'settled') return settledPage(reply, tenant, review.reason);
  return sendPage(
    reply,
    decideView({ ...frame(tenant, 'Confirm this device'), ...decideData(reply, tenant, path, review.tx, review.details) }),
  );
}

function decideData(reply: FastifyReply, tenant: Tenant, path: string, tx: string, details: DeviceRequestDetails): DecideData {
  return {
    action: pagePath(tenant, path),
    csrf: csrfToken(reply, tenant),
    tx,
    appName: details.appName,
    username: details.username,
    userCode: details.userCode,
    scopes: details.scopes,
    audience: details.audience,
    requestIp: details.requestIp,
    userAgent: details.requestUserAgent ?? 'Not given by the device',
    requestedAt: utc(details.requestedAt),
  };
}

function showDecision(reply: FastifyReply, tenant: Tenant, decision: Decision): FastifyReply {
  const page = (title: string, lines: string[], alert?: string, link?: { href: string; text: string }) =>
    sendPage(reply, messageView({ ...frame(tenant, title), lines, ...(alert === undefined ? {} : { alert }), ...(link ? { link } : {}) }));
  switch (decision.kind) {
    case 'sign_in':
      return reply.redirect(signInUrl(tenant, decision.tx), 303);
    case 'approved':
      return page('Device connected', [
        `You can return to your device: ${decision.appName} is signing you in.`,
        'You can close this page.',
      ]);
    case 'denied':
      return page('Request denied', [`${decision.appName} on the device gets no access.`, 'You can close this page.']);
    case 'refused':
      reply.code(403);
      return page(
        'This device cannot be connected',
        [],
        decision.sentence,
        decision.signInAgain === undefined
          ? undefined
          : { href: signInUrl(tenant, decision.signInAgain), text: 'Sign in with another account' },
      );
    case 'second_factor_missing':
      reply.code(403);
      return page('A second factor is needed', [
        'This application needs a sign-in with a second factor, and this sign-in did not include one. Start again on the device.',
      ]);
    case 'settled':
      reply.code(409);
      return settledPage(reply, tenant, decision.reason);
  }
}

const SETTLED: Record<SettledReason, [string, string]> = {
  approved: ['Already confirmed', 'This device request was already confirmed; nothing was changed. You can return to your device.'],
  denied: [
    'Already denied',
    'This device request was already denied; nothing was changed. Start again on the device if this was a mistake.',
  ],
  expired: ['Code expired', 'This device code has expired. Start again on the device to get a new code.'],
  gone: ['Request not found', 'This device request no longer exists. Start again on the device to get a new code.'],
};

function settledPage(reply: FastifyReply, tenant: Tenant, reason: SettledReason): FastifyReply {
  const [title, line] = SETTLED[reason];
  return sendPage(reply, messageView({ ...frame(tenant, title), lines: [line] }));
}

/** `2026-12-07 21:59:14 UTC`: one zone for everyone, said so. */
function utc(at: Date): string {
  return `${at.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

function minutes(seconds: number): string {
  const count = Math.max(1, Math.ceil(seconds / 60));
  return count === 1 ? 'a minute' : `${count} minutes`;
}
