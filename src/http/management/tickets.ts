/**
 * `POST /tickets/password-change`, `POST /tickets/email-verification`
 * (DESIGN.md §9) in Auth0's shapes: 201 `{ticket}`, the link to the reset
 * or verification page; nothing is emailed. The rules are
 * oauth/management/tickets.ts.
 */
import { z } from 'zod';
import { badRequest } from '../../domain/management-errors.js';
import { MAX_TICKET_TTL_SECONDS, type UserTickets } from '../../oauth/management/tickets.js';
import { defineEndpoint, type ManagementEndpoint } from './endpoint.js';

const resultUrl = z
  .url({ protocol: /^https?$/ })
  .max(2048)
  .optional()
  .describe('Where the page sends the user once the ticket is spent, with `success=true` and a `message`.');
const ttlSec = z
  .number()
  .int()
  .min(0)
  .max(MAX_TICKET_TTL_SECONDS)
  .optional()
  .describe('Seconds the link works; absent or 0: 432000 (5 days).');
const includeEmailInRedirect = z.boolean().optional().describe('The redirect to `result_url` names the email.');

const passwordChangeBody = z
  .object({
    user_id: z.string().min(1).max(256).optional(),
    email: z.email().max(254).optional().describe('With `connection_id`, instead of `user_id`.'),
    connection_id: z.string().min(1).max(128).optional(),
    result_url: resultUrl,
    ttl_sec: ttlSec,
    mark_email_as_verified: z.boolean().optional().describe('Spending the ticket also marks the email verified.'),
    includeEmailInRedirect,
    client_id: z.string().max(128).optional().describe("Accepted for Auth0's SDKs; the page is the tenant's."),
  })
  .meta({ id: 'PasswordChangeTicketRequest' });

const emailVerificationBody = z
  .object({
    user_id: z.string().min(1).max(256),
    result_url: resultUrl,
    ttl_sec: ttlSec,
    includeEmailInRedirect,
    client_id: z.string().max(128).optional().describe("Accepted for Auth0's SDKs; the page is the tenant's."),
  })
  .meta({ id: 'EmailVerificationTicketRequest' });

const ticketSchema = z.object({ ticket: z.string().describe('The link to give the user.') }).meta({ id: 'Ticket' });

export function ticketEndpoints(tickets: UserTickets): ManagementEndpoint[] {
  return [
    defineEndpoint({
      method: 'POST',
      path: '/tickets/password-change',
      operationId: 'post_password_change',
      tag: 'tickets',
      summary: 'Create a password-change ticket: a link to the reset page',
      scopes: ['create:user_tickets'],
      body: passwordChangeBody,
      responses: {
        201: { description: 'The link', schema: ticketSchema },
        404: { description: 'No such user (or connection) in this tenant' },
      },
      handle: async ({ tenant, body }) => {
        const options = {
          resultUrl: body.result_url,
          ttlSec: body.ttl_sec,
          markEmailAsVerified: body.mark_email_as_verified,
          includeEmailInRedirect: body.includeEmailInRedirect,
        };
        let ticket: string;
        if (body.user_id !== undefined && body.email === undefined && body.connection_id === undefined) {
          ticket = await tickets.passwordChange(tenant, { ...options, userId: body.user_id });
        } else if (body.user_id === undefined && body.email !== undefined && body.connection_id !== undefined) {
          ticket = await tickets.passwordChange(tenant, { ...options, email: body.email, connectionId: body.connection_id });
        } else {
          throw badRequest('Send either user_id, or email with connection_id.');
        }
        return { status: 201, body: { ticket }, target: body.user_id ?? body.email };
      },
    }),
    defineEndpoint({
      method: 'POST',
      path: '/tickets/email-verification',
      operationId: 'post_email_verification',
      tag: 'tickets',
      summary: 'Create an email-verification ticket: a link that marks the email verified',
      scopes: ['create:user_tickets'],
      body: emailVerificationBody,
      responses: {
        201: { description: 'The link', schema: ticketSchema },
        404: { description: 'No such user in this tenant' },
      },
      handle: async ({ tenant, body }) => {
        const ticket = await tickets.emailVerification(tenant, {
          userId: body.user_id,
          resultUrl: body.result_url,
          ttlSec: body.ttl_sec,
          includeEmailInRedirect: body.includeEmailInRedirect,
        });
        return { status: 201, body: { ticket }, target: body.user_id };
      },
    }),
  ];
}
