/**
 * The pages behind the account emails (DESIGN.md §8): `GET, POST
 * /T/reset-password` (the new password twice, the policy's reason on
 * refusal) and `GET /T/verify-email`. The rules are
 * oauth/accounts/accounts.ts; a used, expired or unknown link shows an error
 * page. Registered inside the pages' context (page-kit.ts: headers, CSRF,
 * cookies, the error page).
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { Catalog, Tenant } from '../../domain/tenant.js';
import type { Accounts, TicketCheck } from '../../oauth/accounts/accounts.js';
import { tenantOf } from '../tenant.js';
import { csrfToken, formParameters, frame, queryParameters, sendPage } from './page-kit.js';
import { RESET_PASSWORD } from './templates/accounts.js';
import { defineView, messageView } from './views.js';

interface ResetData {
  action: string;
  csrf: string;
  ticket: string;
  account: string;
  alert?: string;
}

const resetView = defineView<ResetData>('reset-password', RESET_PASSWORD);

export interface AccountPagesDeps {
  catalog: Catalog;
  accounts: Accounts;
}

export const accountPages: FastifyPluginAsync<AccountPagesDeps> = async (app, { catalog, accounts }) => {
  app.get('/:tenant/reset-password', async (request, reply) => {
    const tenant = tenantOf(request, catalog);
    const ticket = queryParameters(request).get('ticket') ?? '';
    const check = await accounts.checkTicket(tenant, 'reset_password', ticket);
    if (check.kind !== 'valid') return linkRefused(reply, tenant, check.kind, 'reset');
    return sendPage(reply, resetPage(reply, tenant, ticket, accountName(check)));
  });

  app.post('/:tenant/reset-password', { preHandler: app.csrfProtection }, async (request, reply) => {
    const tenant = tenantOf(request, catalog);
    const params = formParameters(request);
    const ticket = params.get('ticket') ?? '';
    const outcome = await accounts.resetPassword(tenant, ticket, params.get('password') ?? '', params.get('password_confirmation') ?? '');
    request.log.info({ tenant: tenant.name, outcome: outcome.kind }, 'password reset page');
    switch (outcome.kind) {
      case 'done':
        // A ticket made through the Management API with Auth0's `result_url`: back to the application.
        if (outcome.redirect !== undefined) return reply.redirect(outcome.redirect, 303);
        return sendPage(
          reply,
          messageView({
            ...frame(tenant, 'Your password is changed'),
            lines: ['You can now sign in with your new password. Every device that was signed in must sign in again.'],
          }),
        );
      case 'refused': {
        const check = await accounts.checkTicket(tenant, 'reset_password', ticket);
        if (check.kind !== 'valid') return linkRefused(reply, tenant, check.kind, 'reset');
        return sendPage(reply.code(400), resetPage(reply, tenant, ticket, accountName(check), outcome.reason));
      }
      default:
        return linkRefused(reply, tenant, outcome.kind, 'reset');
    }
  });

  app.get('/:tenant/verify-email', async (request, reply) => {
    const tenant = tenantOf(request, catalog);
    const outcome = await accounts.verifyEmail(tenant, queryParameters(request).get('ticket'));
    request.log.info({ tenant: tenant.name, outcome: outcome.kind }, 'email verification page');
    if (outcome.kind !== 'valid') return linkRefused(reply, tenant, outcome.kind, 'verify');
    if (outcome.redirect !== undefined) return reply.redirect(outcome.redirect, 302);
    return sendPage(
      reply,
      messageView({
        ...frame(tenant, 'Your email is verified'),
        lines: ['Thank you. You can close this page and go back to the application.'],
      }),
    );
  });
};

function resetPage(reply: FastifyReply, tenant: Tenant, ticket: string, account: string, alert?: string): string {
  return resetView({
    ...frame(tenant, 'Reset your password'),
    action: `${tenant.endpoints.issuer}reset-password`,
    csrf: csrfToken(reply, tenant),
    ticket,
    account,
    ...(alert === undefined ? {} : { alert }),
  });
}

const accountName = (check: Extract<TicketCheck, { kind: 'valid' }>): string => check.user.email ?? check.user.username;

/** A link that no longer works: what happened and what to do next (a ticket has 256 random bits: no guess lands on a real one). */
function linkRefused(reply: FastifyReply, tenant: Tenant, kind: 'used' | 'expired' | 'unknown', what: 'reset' | 'verify'): FastifyReply {
  const sentence = {
    used: 'This link has already been used. Each link works once.',
    expired: 'This link has expired.',
    unknown: 'This link is not valid. Check that you opened the whole link from the email.',
  }[kind];
  const next =
    what === 'reset'
      ? 'Ask the application for a new password-reset email.'
      : 'Sign in to the application; it can send you a new verification email.';
  return sendPage(
    reply.code(kind === 'unknown' ? 404 : 410),
    messageView({ ...frame(tenant, 'This link does not work'), lines: [sentence, next] }),
  );
}
