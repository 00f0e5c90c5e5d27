/**
 * Request parameters, parsed without I/O (STYLE.md §2): repeats rejected,
 * lengths capped, empty values treated as absent (RFC 6749 §3.1), and only
 * strings accepted from JSON bodies.
 */
import { visit } from 'jsonc-parser';
import { InvalidRequestError } from '../domain/errors.js';

const DEFAULT_MAX_LENGTH = 4096;
// A sign-in transaction (oauth/browser/login-transaction.ts) seals a whole authorization request; an id_token_hint
// (logout) is an id_token, hook claims included (tokens/id-token-hint.ts has the same bound).
const MAX_LENGTHS: Record<string, number> = { client_assertion: 16_384, tx: 16_384, id_token_hint: 16_384 };
const MAX_PARAMETERS = 64;

const MAX_LIST_ITEMS = 8;

export class RequestParameters {
  private constructor(private readonly values: ReadonlyMap<string, string>) {}

  /** application/x-www-form-urlencoded, as RFC 6749 §4.3.2 specifies. */
  static fromForm(body: string): RequestParameters {
    const values = new Map<string, string>();
    let count = 0;
    for (const [name, value] of new URLSearchParams(body)) {
      if (++count > MAX_PARAMETERS) throw new InvalidRequestError(`The request has more than ${MAX_PARAMETERS} parameters.`);
      if (values.has(name))
        throw new InvalidRequestError(`${parameterLabel(name)} is repeated; RFC 6749 §3.1 allows each parameter once.`, {
          logDetail: `repeated parameter ${loggedName(name)}`,
        });
      values.set(name, value);
    }
    return RequestParameters.checked(values);
  }

  /**
   * The Auth0 dialect's JSON body: a flat object of string values. `raw` is
   * the body's text, checked for repeated keys, which JSON.parse would
   * silently resolve to the last one.
   */
  static fromJson(body: unknown, raw?: string, options: { listKeys?: readonly string[] } = {}): RequestParameters {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new InvalidRequestError('The JSON body must be an object of string parameters.');
    }
    const entries = Object.entries(body as Record<string, unknown>);
    if (entries.length > MAX_PARAMETERS) throw new InvalidRequestError(`The request has more than ${MAX_PARAMETERS} parameters.`);
    const values = new Map<string, string>();
    for (const [name, value] of entries) {
      if (value === null || value === undefined) continue;
      if (Array.isArray(value) && options.listKeys?.includes(name)) {
        // Auth0's MFA API takes some parameters as arrays of strings: kept space-separated, read back with list().
        if (
          value.length > MAX_LIST_ITEMS ||
          !value.every((item): item is string => typeof item === 'string' && /^[\x21-\x7E]+$/.test(item))
        ) {
          throw new InvalidRequestError(`${parameterLabel(name)} must be an array of at most ${MAX_LIST_ITEMS} strings without spaces.`, {
            logDetail: `bad list parameter ${loggedName(name)}`,
          });
        }
        values.set(name, value.join(' '));
        continue;
      }
      if (typeof value !== 'string')
        throw new InvalidRequestError(`${parameterLabel(name)} must be a string.`, {
          logDetail: `non-string parameter ${loggedName(name)}`,
        });
      values.set(name, value);
    }
    // Only now, with the body known to be one flat object, is the scan shallow whatever the input.
    if (raw !== undefined) rejectRepeatedTopLevelKeys(raw);
    return RequestParameters.checked(values);
  }

  /** A list parameter (JSON array or space-separated string); undefined when absent. */
  list(name: string): string[] | undefined {
    const value = this.get(name);
    return value === undefined ? undefined : value.split(' ').filter((item) => item !== '');
  }

  static empty(): RequestParameters {
    return new RequestParameters(new Map());
  }

  private static checked(values: Map<string, string>): RequestParameters {
    for (const [name, value] of values) {
      const max = MAX_LENGTHS[name] ?? DEFAULT_MAX_LENGTH;
      if (value.length > max)
        throw new InvalidRequestError(`${parameterLabel(name)} is longer than ${max} characters.`, {
          logDetail: `over-long parameter ${loggedName(name)}`,
        });
      if (value === '') values.delete(name);
    }
    return new RequestParameters(values);
  }

  get(name: string): string | undefined {
    return this.values.get(name);
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  require(name: string): string {
    const value = this.values.get(name);
    if (value === undefined) throw new InvalidRequestError(`The parameter "${name}" is required.`);
    return value;
  }
}

/** Called on a flat object of strings only (the caller checked), so the visit never recurses deeply. */
function rejectRepeatedTopLevelKeys(raw: string): void {
  const seen = new Set<string>();
  let depth = 0;
  let repeated: string | undefined;
  visit(raw, {
    onObjectBegin: () => void depth++,
    onObjectEnd: () => void depth--,
    onArrayBegin: () => void depth++,
    onArrayEnd: () => void depth--,
    onObjectProperty(name) {
      if (depth !== 1 || repeated !== undefined) return;
      if (seen.has(name)) repeated = name;
      seen.add(name);
    },
  });
  if (repeated !== undefined)
    throw new InvalidRequestError(`${parameterLabel(repeated)} is repeated; each parameter may appear once.`, {
      logDetail: `repeated parameter ${loggedName(repeated)}`,
    });
}

/**
 * The parameters this server defines (RFC 6749, 7009, 7521/7523, 7662, 8707
 * and Auth0's extensions): names a description may repeat, since they are
 * the server's own vocabulary, not the client's text.
 */
const KNOWN_PARAMETERS: ReadonlySet<string> = new Set([
  'grant_type',
  'client_id',
  'client_secret',
  'client_assertion',
  'client_assertion_type',
  'username',
  'password',
  'realm',
  'scope',
  'audience',
  'resource',
  'refresh_token',
  'mfa_token',
  'otp',
  'oob_code',
  'binding_code',
  'recovery_code',
  'authenticator_types',
  'oob_channels',
  'authenticator_id',
  'challenge_type',
  'email',
  'token',
  'token_type_hint',
  'access_token',
]);

/**
 * How a description names a parameter the client sent (issue #11 point 11:
 * descriptions never reflect input a client chose): by name when it is one
 * of this server's own parameters; otherwise generically, the name going to
 * the log instead.
 */
function parameterLabel(name: string): string {
  return KNOWN_PARAMETERS.has(name) ? `The parameter "${name}"` : 'A parameter';
}

/** A client-chosen parameter name for the log: bounded, printable ASCII. */
function loggedName(name: string): string {
  return JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name.replace(/[^\x20-\x7E]/g, '?'));
}
