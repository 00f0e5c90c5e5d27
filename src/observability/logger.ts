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

/**
 * Exact paths only: a wildcard path (`*.password`) costs ~10 µs on every log
 * line, the whole budget of a refresh. Log call sites pass flat fields they
 * build themselves (never a request body or parameter bag), so the list names
 * the top-level credential fields and the nested places where a framework
 * object could carry one.
 */
export const REDACT_PATHS = [
  ...SECRET_FIELDS,
  'req.headers.authorization',
  'req.headers.cookie',
  'req.body',
  'request.body',
  'body',
  'params',
  'err.config',
];

export function loggerOptions(level: string): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: 'latchkey' },
    // `"level":"info"`, not pino's 30: what log shippers (Loki, Elasticsearch, Datadog) and an operator
    // reading the file expect; `"level":30` needs a lookup table in every query (issue #15 point 7).
    formatters: { level: (label) => ({ level: label }) },
    timestamp: () => `,"time":"${new Date().toISOString()}"`,
  };
}
