/**
 * The email a user gets when one of their factors is removed, so a removal
 * they did not make does not go unnoticed (whoever removed it knew the
 * password and passed a second factor).
 */
import type { Logger } from 'pino';
import type { Tenant } from '../domain/tenant.js';
import type { MfaAuthenticator, UserRecord } from '../storage/stores.js';
import type { EmailSender } from './email-sender.js';

/** Tells the user a factor was removed; a mail that cannot go out is logged, the removal stands. */
export async function notifyFactorRemoval(
  deps: { sender: EmailSender; logger: Logger },
  tenant: Tenant,
  user: UserRecord,
  removal: { factor: MfaAuthenticator; at: Date; ip: string },
): Promise<void> {
  const { factor, at, ip } = removal;
  const to = user.email ?? factor.email;
  if (to === null) return;
  const what = factor.type === 'otp' ? 'an authenticator app (one-time codes)' : `codes by email to ${maskEmail(factor.email ?? '')}`;
  try {
    await deps.sender.send({
      to,
      subject: `A sign-in method was removed from your ${tenant.name} account`,
      text:
        `A second sign-in step was removed from your ${tenant.name} account: ${what}.\n\n` +
        `When: ${at.toISOString()} (UTC)\nFrom IP address: ${ip}\n\n` +
        'If this was you, there is nothing more to do.\n' +
        'If it was not you, someone knows your password: change it now, ' +
        'and ask your administrator to check your account and its sign-in methods.\n',
    });
  } catch (err) {
    deps.logger.warn(
      { tenant: tenant.name, user_id: user.id, err: (err as Error).message },
      'could not email the user that a second factor was removed; the removal stands (security event mfa_authenticator_removed)',
    );
  }
}

/** An address as the user list shows it: the first character of the local part, then stars. */
export function maskEmail(email: string): string {
  const [local = '', domain = ''] = email.split('@');
  return `${local.slice(0, 1)}${'*'.repeat(Math.max(1, local.length - 1))}@${domain}`;
}
