/**
 * Accounts of a database connection (DESIGN.md §8): sign-up, the
 * password-reset request, and the two emailed links (reset, verification).
 * The HTTP edges are http/routes/dbconnections.ts and http/pages/accounts.ts;
 * the rules are here.
 *
 * No enumeration: a sign-up with a taken email answers as a new one would
 * (a fresh-looking `_id`, the same body) and the address's owner is told by
 * email; a reset request answers the same sentence for every address, and
 * only a known one gets a link. Both hash the password or look the user up
 * the same way whatever the outcome, and send their email off the request's
 * path, so the answer's time does not tell either.
 */
import { randomUUID } from 'node:crypto';
import { randomToken, sha256Base64Url } from '../../crypto/secrets.js';
import type { Logger } from 'pino';
import type { Clock } from '../../clock.js';
import { passwordPolicyRefusal } from '../../domain/password-policy.js';
import { servedConnectionOf, type Tenant } from '../../domain/tenant.js';
import type { AccountLifecycle } from '../../identity/account-lifecycle.js';
import { hashPassword } from '../../identity/passwords.js';
import { PasswordPolicyError } from '../../identity/user-admin.js';
import type { EmailMessage, EmailSender } from '../../mfa/email-sender.js';
import type { SecurityEvents } from '../../observability/security-events.js';
import type { AccountTicketKind, AccountTicketStore, TicketRedirect } from '../../storage/account-tickets.js';
import type { Counter, CounterBackend } from '../../storage/counters.js';
import type { ConnectionRecord, UserRecord, UserStore } from '../../storage/stores.js';
import { AccountRequestError, badRequest } from './account-errors.js';
import { passwordResetEmail, signUpAttemptEmail, usernameTakenEmail, verificationEmail } from './account-emails.js';

/** Auth0's sentence, the same for every address (DESIGN.md §8). */
export const CHANGE_PASSWORD_SENTENCE = "We've just sent you an email to reset your password.";
export const RESET_TICKET_MINUTES = 60;
/** Auth0's verification links last 5 days. */
export const VERIFY_TICKET_DAYS = 5;

/** Per hour: enough for a household or an office behind one address, too few to farm accounts or flood a mailbox. */
export const ACCOUNT_RATE_LIMITS = {
  signupPerIp: 20,
  signupPerEmail: 5,
  resetPerIp: 20,
  resetPerEmail: 5,
} as const;
const WINDOW_SECONDS = 3600;
const MAX_EMAIL_LENGTH = 254;

export interface SignUpInput {
  clientId: string | undefined;
  connection: string | undefined;
  email: string | undefined;
  password: string | undefined;
  username?: string | undefined;
  name?: string | undefined;
  givenName?: string | undefined;
  familyName?: string | undefined;
  ip: string;
}

export interface AccountsDeps {
  users: UserStore;
  tickets: AccountTicketStore;
  lifecycle: AccountLifecycle;
  sender: EmailSender;
  counters: CounterBackend;
  securityEvents: Pick<SecurityEvents, 'record'>;
  clock: Clock;
  logger: Logger;
}

/** What a ticket link found: a user to act for, or why not. */
export type TicketCheck =
  | { kind: 'valid'; user: UserRecord; connection: ConnectionRecord; onSpent?: TicketRedirect | undefined }
  | { kind: 'used' | 'expired' | 'unknown' };

/** `redirect`: where a ticket made through the Management API sends the user once spent (Auth0's `result_url`). */
export type ResetOutcome =
  | { kind: 'done'; redirect?: string }
  | { kind: 'refused'; reason: string }
  | Exclude<TicketCheck, { kind: 'valid' }>;
export type VerifyOutcome = { kind: 'valid'; redirect?: string } | { kind: 'used' | 'expired' | 'unknown' };

/** What the page tells the application at `result_url`, as Auth0's classic pages do. */
export const PASSWORD_CHANGED_MESSAGE = 'You can now login to the application with the new password.';
export const EMAIL_VERIFIED_MESSAGE = 'Your email was verified. You can continue using the application.';

/** Tickets are stored only as their SHA-256, as every other code and token. */
const hashTicket = sha256Base64Url;

export class Accounts {
  private readonly limits: Record<keyof typeof ACCOUNT_RATE_LIMITS, Counter>;
  /** Emails on their way (sent off the request's path). */
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly deps: AccountsDeps) {
    const counter = (name: string, limit: number) => deps.counters.counter({ name, limit, windowSeconds: WINDOW_SECONDS });
    this.limits = {
      signupPerIp: counter('signup-ip', ACCOUNT_RATE_LIMITS.signupPerIp),
      signupPerEmail: counter('signup-email', ACCOUNT_RATE_LIMITS.signupPerEmail),
      resetPerIp: counter('reset-ip', ACCOUNT_RATE_LIMITS.resetPerIp),
      resetPerEmail: counter('reset-email', ACCOUNT_RATE_LIMITS.resetPerEmail),
    };
  }

  /** `POST /T/dbconnections/signup`: the body Auth0 answers, `{_id, email, email_verified}`. */
  async signUp(tenant: Tenant, input: SignUpInput): Promise<{ _id: string; email: string; email_verified: false }> {
    const connection = this.connectionFor(tenant, input.clientId, input.connection);
    if (connection.disableSignup !== false) {
      throw new AccountRequestError(403, 'BadRequestError', 'operation_not_allowed', 'Sign-ups are not allowed for this connection.');
    }
    const email = checkedEmail(input.email);
    if (input.password === undefined || input.password === '') throw badRequest('invalid_signup', 'The password is missing.');
    await this.limit(tenant, 'signup', input.ip, email);
    const refusal = passwordPolicyRefusal(connection.passwordPolicy, input.password);
    if (refusal) {
      const err = new PasswordPolicyError(refusal.rule, refusal.message);
      await this.deps.lifecycle.recordPolicyRefusal(tenant, connection, email, err, 'create');
      throw new AccountRequestError(400, 'PasswordStrengthError', 'invalid_password', `Password is too weak: ${refusal.message}.`);
    }
    // Hashed whatever follows: a taken address costs the same time as a new one.
    const passwordHash = await hashPassword(input.password);
    const username = input.username ?? email;
    const taken = await this.takenBy(tenant, connection, email, username);
    const created =
      taken !== undefined
        ? undefined
        : await this.deps.users.create({
            tenantId: tenant.id,
            connectionId: connection.id,
            username,
            email,
            emailVerified: false,
            name: input.name,
            givenName: input.givenName,
            familyName: input.familyName,
            passwordHash,
          });
    if (!created) {
      // DESIGN.md §8: answered as a new sign-up; the address's owner hears of it, the caller learns nothing. A taken
      // username with a free address is told to that address only: whoever reads it may choose another.
      const byUsername = taken === 'username';
      await this.deps.securityEvents.record({
        type: 'signup_refused',
        reason: byUsername ? 'username_taken' : 'already_exists',
        tenantId: tenant.id,
        connection: connection.name,
        identifier: email,
        ip: input.ip,
      });
      const notice = byUsername ? usernameTakenEmail(tenant.name, email, username) : signUpAttemptEmail(tenant.name, email);
      this.sendLater(notice, tenant, 'sign-up attempt notice');
      return { _id: randomUUID(), email, email_verified: false };
    }
    await this.deps.securityEvents.record({
      type: 'user_signed_up',
      reason: 'signup',
      tenantId: tenant.id,
      connection: connection.name,
      userId: created.id,
      identifier: created.username,
      ip: input.ip,
    });
    const ticket = await this.issueTicket(tenant, created, 'verify_email', VERIFY_TICKET_DAYS * 86_400_000);
    this.sendLater(
      verificationEmail(tenant.name, email, `${tenant.endpoints.issuer}verify-email?ticket=${ticket}`, VERIFY_TICKET_DAYS),
      tenant,
      'verification email',
    );
    return { _id: created.id, email, email_verified: false };
  }

  /** `POST /T/dbconnections/change_password`: always the same sentence; a link only to a known address. */
  async requestPasswordReset(
    tenant: Tenant,
    input: { clientId: string | undefined; connection: string | undefined; email: string | undefined; ip: string },
  ): Promise<string> {
    const connection = this.connectionFor(tenant, input.clientId, input.connection);
    const email = checkedEmail(input.email);
    await this.limit(tenant, 'reset', input.ip, email);
    const user = await this.deps.users.findByLogin(tenant.id, connection.id, email);
    if (user?.email && !user.blocked) {
      const to = user.email;
      // Off the request's path, so a known address answers as fast as an unknown one.
      this.track(
        async () => {
          const ticket = await this.issueTicket(tenant, user, 'reset_password', RESET_TICKET_MINUTES * 60_000);
          await this.deps.securityEvents.record({
            type: 'password_reset_requested',
            reason: 'change_password',
            tenantId: tenant.id,
            connection: connection.name,
            userId: user.id,
            identifier: user.username,
            ip: input.ip,
          });
          await this.deps.sender.send(
            passwordResetEmail(tenant.name, to, `${tenant.endpoints.issuer}reset-password?ticket=${ticket}`, RESET_TICKET_MINUTES),
          );
        },
        tenant,
        'password reset email',
      );
    }
    return CHANGE_PASSWORD_SENTENCE;
  }

  /** The reset page's GET: whether its link still works. */
  checkTicket(tenant: Tenant, kind: AccountTicketKind, ticket: string | undefined): Promise<TicketCheck> {
    return this.ticketCheck(tenant, kind, ticket);
  }

  /** The reset page's POST: the new password twice, the policy, then the ticket spent and the password changed. */
  async resetPassword(tenant: Tenant, ticket: string | undefined, password: string, confirmation: string): Promise<ResetOutcome> {
    const check = await this.ticketCheck(tenant, 'reset_password', ticket);
    if (check.kind !== 'valid') return check;
    if (password !== confirmation) return { kind: 'refused', reason: 'The two passwords are not the same.' };
    const refusal = passwordPolicyRefusal(check.connection.passwordPolicy, password);
    if (refusal) {
      const err = new PasswordPolicyError(refusal.rule, refusal.message);
      await this.deps.lifecycle.recordPolicyRefusal(tenant, check.connection, check.user.username, err, 'change', check.user.id);
      return { kind: 'refused', reason: `${capitalise(refusal.message)}.` };
    }
    if (!(await this.deps.tickets.consume(tenant.id, 'reset_password', hashTicket(ticket ?? ''), this.deps.clock.now()))) {
      return { kind: 'used' };
    }
    // DESIGN.md §8 "Changing a password by any path": every refresh-token family revoked, the locks lifted, the event.
    await this.deps.lifecycle.changePassword(tenant, check.connection, check.user, password, 'password_reset');
    if (check.onSpent?.markEmailVerified && check.user.email) await this.deps.users.updateProfile(check.user.id, { emailVerified: true });
    return { kind: 'done', ...redirectAfter(check, PASSWORD_CHANGED_MESSAGE) };
  }

  /** `GET /T/verify-email?ticket=…`: the ticket spent and the address marked verified. */
  async verifyEmail(tenant: Tenant, ticket: string | undefined): Promise<VerifyOutcome> {
    const check = await this.ticketCheck(tenant, 'verify_email', ticket);
    if (check.kind !== 'valid') return { kind: check.kind };
    if (!(await this.deps.tickets.consume(tenant.id, 'verify_email', hashTicket(ticket ?? ''), this.deps.clock.now()))) {
      return { kind: 'used' };
    }
    await this.deps.users.updateProfile(check.user.id, { emailVerified: true });
    await this.deps.securityEvents.record({
      type: 'email_verified',
      reason: 'verification_link',
      tenantId: tenant.id,
      connection: check.connection.name,
      userId: check.user.id,
      identifier: check.user.username,
    });
    return { kind: 'valid', ...redirectAfter(check, EMAIL_VERIFIED_MESSAGE) };
  }

  private async ticketCheck(tenant: Tenant, kind: AccountTicketKind, ticket: string | undefined): Promise<TicketCheck> {
    if (ticket === undefined || ticket === '' || ticket.length > 128) return { kind: 'unknown' };
    const record = await this.deps.tickets.find(tenant.id, kind, hashTicket(ticket));
    if (!record) return { kind: 'unknown' };
    if (record.usedAt !== null) return { kind: 'used' };
    if (record.expiresAt.getTime() <= this.deps.clock.now().getTime()) return { kind: 'expired' };
    const user = await this.deps.users.findById(tenant.id, record.userId);
    const connection = user ? servedConnectionOf(tenant, user) : undefined;
    if (!user || !connection || user.blocked) return { kind: 'unknown' };
    return { kind: 'valid', user, connection, onSpent: record.onSpent };
  }

  /**
   * A single-use ticket for the user; returns its value (only its hash is
   * kept). `onSpent`: a Management API ticket's options (oauth/management/tickets.ts).
   */
  async issueTicket(
    tenant: Tenant,
    user: Pick<UserRecord, 'id'>,
    kind: AccountTicketKind,
    lifetimeMs: number,
    onSpent?: TicketRedirect,
  ): Promise<string> {
    const ticket = randomToken(32);
    const now = this.deps.clock.now();
    await this.deps.tickets.create({
      ticketHash: hashTicket(ticket),
      tenantId: tenant.id,
      userId: user.id,
      kind,
      createdAt: now,
      expiresAt: new Date(now.getTime() + lifetimeMs),
      ...(onSpent === undefined ? {} : { onSpent }),
    });
    return ticket;
  }

  /** The application and the database connection a request names; the application must be allowed to use it. */
  private connectionFor(tenant: Tenant, clientId: string | undefined, name: string | undefined): ConnectionRecord {
    const app = clientId === undefined ? undefined : tenant.applications.get(clientId);
    if (!app) throw badRequest('invalid_client', 'The client_id is not an application of this tenant.');
    const connection = name === undefined ? undefined : tenant.connections.get(name);
    if (connection?.type !== 'database')
      throw badRequest('invalid_connection', 'The connection is not a database connection of this tenant.');
    if (app.settings.connections !== undefined && !app.settings.connections.includes(connection.name)) {
      throw badRequest('invalid_connection', `This application may not use the connection "${connection.name}".`);
    }
    return connection;
  }

  /** What an existing user already holds: the address, else the username; undefined when both are free. */
  private async takenBy(
    tenant: Tenant,
    connection: ConnectionRecord,
    email: string,
    username: string,
  ): Promise<'email' | 'username' | undefined> {
    if (await this.deps.users.findByLogin(tenant.id, connection.id, email)) return 'email';
    if (username !== email && (await this.deps.users.findByLogin(tenant.id, connection.id, username))) return 'username';
    return undefined;
  }

  /** Per IP, then per address; 429 with Retry-After past either (DESIGN.md §8). */
  private async limit(tenant: Tenant, what: 'signup' | 'reset', ip: string, email: string): Promise<void> {
    const pairs: Array<[Counter, string]> = [
      [what === 'signup' ? this.limits.signupPerIp : this.limits.resetPerIp, `${tenant.id}:${ip}`],
      [what === 'signup' ? this.limits.signupPerEmail : this.limits.resetPerEmail, `${tenant.id}:${email}`],
    ];
    for (const [counter, key] of pairs) {
      const result = await counter.consume(key);
      if (result.allowed) continue;
      await this.deps.securityEvents.record({ type: 'account_rate_limited', reason: what, tenantId: tenant.id, ip, identifier: email });
      const seconds = Math.max(1, Math.ceil(result.msBeforeReset / 1000));
      throw new AccountRequestError(
        429,
        'TooManyRequestsError',
        'too_many_requests',
        'Too many requests; retry after the time in Retry-After.',
        {
          'retry-after': String(seconds),
        },
      );
    }
  }

  /** Resolves once every email started so far has been handed over (or failed): for a shutdown, and for tests. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all(this.pending);
  }

  private sendLater(message: EmailMessage, tenant: Tenant, what: string): void {
    this.track(() => this.deps.sender.send(message), tenant, what);
  }

  private track(work: () => Promise<void>, tenant: Tenant, what: string): void {
    const running = work().catch((err: unknown) => this.emailFailed(tenant, what, err));
    this.pending.add(running);
    void running.finally(() => this.pending.delete(running));
  }

  private emailFailed(tenant: Tenant, what: string, err: unknown): void {
    const detail = (err as { logDetail?: unknown }).logDetail ?? (err as Error).message;
    this.deps.logger.error({ tenant: tenant.name, email: what, err: detail }, 'an account email could not be sent; the user may ask again');
  }
}

/** `result_url` with Auth0's `success` and `message` (and the email when the ticket asked for it), or nothing. */
function redirectAfter(check: Extract<TicketCheck, { kind: 'valid' }>, message: string): { redirect?: string } {
  const resultUrl = check.onSpent?.resultUrl;
  if (!resultUrl) return {};
  const url = new URL(resultUrl);
  if (check.onSpent?.emailInRedirect && check.user.email) url.searchParams.set('email', check.user.email);
  url.searchParams.set('success', 'true');
  url.searchParams.set('message', message);
  return { redirect: url.toString() };
}

function checkedEmail(value: string | undefined): string {
  const email = value?.trim().toLowerCase();
  if (!email || email.length > MAX_EMAIL_LENGTH || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
    throw badRequest('invalid_signup', 'The email is missing or is not an email address.');
  }
  return email;
}

const capitalise = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);
