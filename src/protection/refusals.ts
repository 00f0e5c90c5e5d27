/**
 * What a login refused before its password check is told: which limit is
 * named when several hold, and in which words. The words are Auth0's where
 * it has some, so apps that show them keep making sense; none of them tells
 * whether the account exists.
 */
import type { ErrorReason } from '../domain/errors.js';
import type { ScopeKind } from './login-scopes.js';

const USER_BLOCKED_MESSAGE =
  'Too many failed sign-in attempts for this account from this location; it is blocked. Try again later or contact the administrator.';
const IP_BLOCKED_MESSAGE = 'Too many failed sign-in attempts from this IP address; try again later.';
const IP_CHECKS_MESSAGE = 'Too many failed password checks from this IP address in the last hour; try again later.';

/** The same words for every login name, known or not: they must not tell whether the account exists. */
function backstopMessage(retryAfterMs: number): string {
  return (
    `Sign-ins to this account from new locations are paused for ${roughDuration(retryAfterMs)} after many failed attempts ` +
    'from many places; locations where it signed in before still work. Try again later or contact the administrator.'
  );
}

/** Which refusal is told when several limits hold at once: the IP's (they hold whatever name is tried), then the name's. */
export const REFUSAL_ORDER: readonly ScopeKind[] = ['ip_blocked', 'ip_check_budget', 'brute_force', 'backstop'];

export function refusalWording(kind: ScopeKind, retryAfterMs: number): { message: string; errorReason: ErrorReason } {
  switch (kind) {
    case 'ip_blocked':
      return { message: IP_BLOCKED_MESSAGE, errorReason: 'ip_blocked' };
    case 'ip_check_budget':
      return { message: IP_CHECKS_MESSAGE, errorReason: 'ip_blocked' };
    case 'brute_force':
      return { message: USER_BLOCKED_MESSAGE, errorReason: 'user_blocked' };
    case 'backstop':
      return { message: backstopMessage(retryAfterMs), errorReason: 'new_locations_paused' };
  }
}

/** "15 minutes", "2 hours": the wait, rounded up, for a sentence. */
function roughDuration(ms: number): string {
  const minutes = Math.max(1, Math.ceil(ms / 60_000));
  if (minutes < 120) return `${minutes} minute${minutes === 1 ? '' : 's'}`;
  return `${Math.ceil(minutes / 60)} hours`;
}
