/**
 * pino options with the one redaction list (STYLE.md §11): whatever path a
 * credential could take into a log line is censored here, once.
 */
import type { LoggerOptions } from 'pino';

const SECRET_FIELDS = [
  'password',
  'new_password',
  'client_secret',
  'client_assertion',
  'refresh_token',
  'access_token',
  'id_token',
  'token',
  'mfa_token',
  'otp',
  'oob_code',
  'binding_code',
  'recovery_code',
  'authorization',
  'cookie',
];

export const REDACT_PATHS = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((f) => `*.${f}`),
  ...SECRET_FIELDS.map((f) => `*.*.${f}`),
  'req.headers.authorization',
  'req.headers.cookie',
  'req.body',
  'request.body',
  'body',
];

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: 'latchkey' },
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
  };
}
