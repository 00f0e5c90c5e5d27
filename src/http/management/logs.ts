/**
 * Auth0's `logs` and `users/{id}/logs` (Management API v2, DESIGN.md §9):
 * the tenant's security events as Auth0 log events, with Auth0's event type
 * codes (`s` success, `fp` wrong password, `fu` unknown user, `limit_wc` a
 * lock, …: Auth0's "Log event type codes" list). An event Auth0 has no code
 * for keeps Latchkey's own type name (docs/operations.md), which no Auth0
 * code uses.
 */
import { z } from 'zod';
import type { StoredSecurityEvent } from '../../storage/stores.js';
import { defineEndpoint, type ManagementEndpoint } from './endpoint.js';
import { listReply, listSchema, offsetOf, pageOf, paginationQuery } from './schemas/common.js';
import { userIdOf, userIdParams, type UserEndpointsDeps } from './user-schemas.js';

export const logSchema = z
  .object({
    log_id: z.string(),
    date: z.string(),
    type: z.string().describe("Auth0's event type code, or Latchkey's event type where Auth0 has none."),
    description: z.string(),
    client_id: z.string().optional(),
    user_id: z.string().optional(),
    user_name: z.string().optional(),
    ip: z.string().optional(),
    connection: z.string().optional(),
    details: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'Log' });
type WireLog = z.output<typeof logSchema>;

/** Auth0's code per Latchkey event type, and per reason where the reason decides it. */
const AUTH0_TYPE: Record<string, string | Record<string, string>> = {
  login_success: 's',
  login_failure: {
    wrong_password: 'fp',
    unknown_user: 'fu',
    no_password: 'fp',
    user_blocked: 'fu',
    password_breached: 'pwd_leak',
    '': 'f',
  },
  login_blocked: { brute_force: 'limit_wc', backstop: 'limit_wc', ip_blocked: 'limit_mu', ip_check_budget: 'limit_mu', '': 'f' },
  user_locked: 'limit_wc',
  ip_throttled: 'limit_mu',
  user_unblocked: 'ublkdu',
  rate_limited: 'api_limit',
  password_changed: 'scp',
  password_reset_requested: 'scpr',
  password_policy_refused: 'fcp',
  user_deleted: 'sdu',
  user_signed_up: 'ss',
  signup_refused: 'fs',
  email_verified: 'sv',
  mfa_required: 'mfar',
  mfa_failure: 'gd_auth_failed',
  mfa_enrolled: 'gd_enrollment_complete',
  mfa_authenticator_removed: 'gd_unenroll',
  logout: 'slo',
  management_api_write: 'sapi',
};

/** What an operator reads first; the event's type and reason stay in `details`. */
const DESCRIPTIONS: Record<string, string> = {
  s: 'Successful login',
  fp: 'Wrong email or password.',
  fu: 'Invalid email or username, or the user is blocked.',
  f: 'Failed login',
  pwd_leak: 'Breached password',
  limit_wc: 'Blocked account: too many failed logins for this login name',
  limit_mu: 'Blocked IP address: too many failed logins from this address',
  ublkdu: 'User login block released',
  api_limit: 'Rate limit reached',
  scp: 'Password changed',
  scpr: 'Password change requested',
  fcp: 'Password refused by the password policy',
  sdu: 'User deleted',
  ss: 'Successful signup',
  fs: 'Signup refused',
  sv: 'Email verified',
  mfar: 'Second factor required',
  gd_auth_failed: 'Second factor refused',
  gd_enrollment_complete: 'Second factor enrolled',
  gd_unenroll: 'Second factor removed',
  slo: 'Logout',
  sapi: 'Management API write',
};

export function auth0LogType(event: Pick<StoredSecurityEvent, 'type' | 'reason'>): string {
  const code = AUTH0_TYPE[event.type];
  if (code === undefined) return event.type;
  if (typeof code === 'string') return code;
  return code[event.reason ?? ''] ?? code[''] ?? event.type;
}

export function wireLog(event: StoredSecurityEvent): WireLog {
  const type = auth0LogType(event);
  const optional = (key: string, value: string | undefined) => (value === undefined ? {} : { [key]: value });
  return {
    log_id: event.id,
    date: event.at.toISOString(),
    type,
    description: DESCRIPTIONS[type] ?? `${event.type}${event.reason === undefined ? '' : ` (${event.reason})`}`,
    ...optional('client_id', event.clientId),
    ...optional('user_id', event.userId),
    ...optional('user_name', event.identifier),
    ...optional('ip', event.ip),
    ...optional('connection', event.connection),
    details: { latchkey_type: event.type, ...(event.reason === undefined ? {} : { reason: event.reason }), ...event.details },
  };
}

const logsQuery = paginationQuery.extend({
  user_id: z.string().max(256).optional().describe("Only this user's events."),
  client_id: z.string().max(256).optional().describe("Only this application's events."),
});

export function logEndpoints({ users, logs }: UserEndpointsDeps): ManagementEndpoint[] {
  return [
    defineEndpoint({
      method: 'GET',
      path: '/logs',
      operationId: 'get_logs',
      tag: 'logs',
      summary: "The tenant's security events, newest first",
      scopes: ['read:logs'],
      query: logsQuery,
      responses: { 200: { description: 'The events', schema: listSchema('logs', logSchema) } },
      handle: async ({ tenant, query }) => {
        const page = pageOf(query);
        const filter = { userId: query.user_id === undefined ? undefined : userIdOf(query.user_id), clientId: query.client_id };
        const { events, total } = await logs.list(tenant, filter, offsetOf(page));
        return { status: 200, body: listReply('logs', events.map(wireLog), page, total) };
      },
    }),
    defineEndpoint({
      method: 'GET',
      path: '/users/{id}/logs',
      operationId: 'get_logs_by_user',
      tag: 'users',
      summary: "A user's security events, newest first",
      scopes: ['read:logs'],
      params: userIdParams,
      query: paginationQuery,
      responses: {
        200: { description: 'The events', schema: listSchema('logs', logSchema) },
        404: { description: 'No such user in this tenant' },
      },
      handle: async ({ tenant, params, query }) => {
        const { user } = await users.get(tenant, userIdOf(params.id));
        const page = pageOf(query);
        const { events, total } = await logs.list(tenant, { userId: user.id }, offsetOf(page));
        return { status: 200, body: listReply('logs', events.map(wireLog), page, total) };
      },
    }),
  ];
}
