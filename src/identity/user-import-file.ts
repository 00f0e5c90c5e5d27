/**
 * Auth0's user-import file (a JSON array of users, "Bulk User Import
 * Database Schema and Examples"), read and checked without I/O. The same
 * checks serve `POST /api/v2/jobs/users-imports` and `latchkey users import`.
 *
 * Auth0's schema has `additionalProperties: false`: a key it does not know
 * (`custom_password_hash.hash.valu`) is refused, naming its path, rather
 * than silently dropped. Every error names the row and the key
 * (`[12].custom_password_hash.hash.value`) and carries the error code
 * Auth0's job errors use (its JSON-schema validator's: INVALID_TYPE,
 * OBJECT_ADDITIONAL_PROPERTIES, …).
 *
 * Beyond Auth0's schema: a plain `password` (the CLI always took one; the
 * connection's policy applies and it is hashed with argon2id), and
 * `password_hash` may be an argon2 hash as well as bcrypt. Imported hashes
 * are bounded in cost, since every sign-in attempt on that user pays it.
 */
import { z } from 'zod';
import type { UserInput } from './user-admin.js';

/** One problem of one row, in Auth0's job-error shape; `path` names the row and the key, `message` what is wrong there. */
export interface ImportRowError {
  code: string;
  message: string;
  path: string;
}

/** A row that passed every check, in the shape user administration takes. */
export type ImportRow = UserInput & {
  /** Position in the file, from 0. */
  index: number;
  userMetadata?: Record<string, unknown> | undefined;
  appMetadata?: Record<string, unknown> | undefined;
};

export type RowCheck = { ok: true; row: ImportRow } | { ok: false; errors: ImportRowError[] };

/** The file as a whole is unusable (not JSON, not an array): nothing is imported. */
export class ImportFileError extends Error {
  override name = 'ImportFileError';
}

/** bcrypt's cost is 2^cost rounds; 14 is about a second per check on current CPUs, and every sign-in attempt pays it. */
export const MAX_IMPORTED_BCRYPT_COST = 14;
/** argon2 memory (KiB), passes and lanes an imported hash may ask of each check: RFC 9106's second choice (64 MiB) fits. */
export const MAX_IMPORTED_ARGON2 = { memoryKiB: 65_536, timeCost: 10, parallelism: 8 } as const;
/** Per metadata object, serialised. */
export const MAX_METADATA_BYTES = 16_384;

/** Keys Auth0 refuses inside app_metadata (they name fields of the user itself). */
const RESERVED_APP_METADATA_KEYS = new Set([
  '__tenant',
  '_id',
  'blocked',
  'clientID',
  'created_at',
  'email_verified',
  'email',
  'globalClientID',
  'global_client_id',
  'identities',
  'lastIP',
  'lastLogin',
  'loginsCount',
  'metadata',
  'multifactor_last_modified',
  'multifactor',
  'updated_at',
  'user_id',
]);

/** Auth0 keys Latchkey does not import: said so, rather than "unknown". */
const UNSUPPORTED_AUTH0_KEYS: Readonly<Record<string, string>> = {
  mfa_factors: 'MFA enrolments are not imported; users enroll again at their next sign-in',
  phone_number: 'Latchkey keeps no phone numbers',
  phone_verified: 'Latchkey keeps no phone numbers',
};

const BCRYPT_HASH = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;
/** PHC string format (github.com/P-H-C/phc-string-format), as Auth0 requires for argon2. */
const ARGON2_PHC = /^\$argon2(?:id|i|d)\$(?:v=(?:16|19)\$)?m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,3})\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{16,}$/;

/** Why an imported bcrypt or argon2 hash cannot be stored; undefined when it can. */
export function importedHashRefusal(hash: string, expected: 'bcrypt' | 'argon2' | 'either'): string | undefined {
  const bcrypt = BCRYPT_HASH.exec(hash);
  if (bcrypt && expected !== 'argon2') {
    const cost = Number(bcrypt[1]);
    return cost >= 4 && cost <= MAX_IMPORTED_BCRYPT_COST
      ? undefined
      : `bcrypt cost ${cost} is outside 4–${MAX_IMPORTED_BCRYPT_COST} (every sign-in attempt pays it)`;
  }
  const argon2 = ARGON2_PHC.exec(hash);
  if (argon2 && expected !== 'bcrypt') {
    const [memoryKiB, timeCost, parallelism] = [Number(argon2[1]), Number(argon2[2]), Number(argon2[3])];
    const limit = MAX_IMPORTED_ARGON2;
    return memoryKiB <= limit.memoryKiB && timeCost <= limit.timeCost && parallelism <= limit.parallelism
      ? undefined
      : `argon2 parameters m=${memoryKiB},t=${timeCost},p=${parallelism} exceed m=${limit.memoryKiB},t=${limit.timeCost},p=${limit.parallelism} (every sign-in attempt pays them)`;
  }
  if (expected === 'bcrypt') return 'not a bcrypt hash ($2a$, $2b$ or $2y$, a two-digit cost, 53 characters of salt and hash)';
  if (expected === 'argon2') return 'not an argon2 hash in PHC string format ($argon2id$v=19$m=…,t=…,p=…$salt$hash)';
  return 'not a bcrypt ($2b$…) or argon2 ($argon2id$…) hash';
}

const text = (max: number) => z.string().min(1).max(max);

const metadata = z
  .record(z.string(), z.unknown())
  .refine((value) => Buffer.byteLength(JSON.stringify(value), 'utf8') <= MAX_METADATA_BYTES, {
    message: `larger than ${MAX_METADATA_BYTES} bytes as JSON`,
    params: { auth0Code: 'MAX_LENGTH' },
  });

const customPasswordHash = z
  .strictObject({
    algorithm: z.enum(['bcrypt', 'argon2'], { error: 'Latchkey imports bcrypt and argon2 hashes only' }),
    hash: z.strictObject({
      value: z.string(),
      // Auth0: for bcrypt and argon2 the value is the hash string itself.
      encoding: z.literal('utf8', { error: 'must be utf8 for bcrypt and argon2' }).optional(),
    }),
  })
  .superRefine((custom, ctx) => {
    const refusal = importedHashRefusal(custom.hash.value, custom.algorithm);
    if (refusal) ctx.addIssue({ code: 'custom', path: ['hash', 'value'], message: refusal, params: { auth0Code: 'INVALID_FORMAT' } });
  });

const userSchema = z
  .strictObject({
    email: z.email({ error: 'not an email address' }).max(254).optional(),
    email_verified: z.boolean().optional(),
    // Auth0: "This will be prepended by the connection strategy"; printable ASCII, as Auth0 ids are.
    user_id: z
      .string()
      .regex(/^[\x21-\x7e]{1,255}$/, { error: 'expected 1 to 255 printable ASCII characters without spaces' })
      .optional(),
    username: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[^\p{Cc}\s]+$/u, { error: 'no spaces or control characters' })
      .optional(),
    given_name: text(150).optional(),
    family_name: text(150).optional(),
    name: text(300).optional(),
    nickname: text(300).optional(),
    picture: z
      .url({ protocol: /^https?$/, error: 'not an http(s) URL' })
      .max(2048)
      .optional(),
    blocked: z.boolean().optional(),
    app_metadata: metadata
      .refine((value) => !Object.keys(value).some((key) => RESERVED_APP_METADATA_KEYS.has(key)), {
        message: `may not hold ${[...RESERVED_APP_METADATA_KEYS].join(', ')} (Auth0 reserves them)`,
        params: { auth0Code: 'INVALID_FORMAT' },
      })
      .optional(),
    user_metadata: metadata.optional(),
    password: z.string().min(1).max(1024).optional(),
    password_hash: z.string().optional(),
    custom_password_hash: customPasswordHash.optional(),
  })
  .superRefine((user, ctx) => {
    if (user.email === undefined && user.username === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['email'],
        message: 'give an email or a username (the login name)',
        params: { auth0Code: 'OBJECT_MISSING_REQUIRED_PROPERTY' },
      });
    const secrets = (['password', 'password_hash', 'custom_password_hash'] as const).filter((key) => user[key] !== undefined);
    if (secrets.length > 1)
      ctx.addIssue({
        code: 'custom',
        path: [secrets[1] as string],
        message: `give only one of ${secrets.join(', ')}`,
        params: { auth0Code: 'CONFLICTING_PROPERTIES' },
      });
    if (user.password_hash !== undefined) {
      const refusal = importedHashRefusal(user.password_hash, 'either');
      if (refusal) ctx.addIssue({ code: 'custom', path: ['password_hash'], message: refusal, params: { auth0Code: 'INVALID_FORMAT' } });
    }
  });

type ImportedUser = z.infer<typeof userSchema>;

/** `[12].custom_password_hash.hash.value`; a key that is no identifier is quoted (`[3].user_metadata["a b"]`). */
export function rowPath(index: number, keys: ReadonlyArray<PropertyKey>): string {
  return keys.reduce<string>((path, key) => {
    if (typeof key === 'number') return `${path}[${key}]`;
    const name = String(key);
    return /^[A-Za-z_$][\w$]*$/.test(name) ? `${path}.${name}` : `${path}[${JSON.stringify(name)}]`;
  }, `[${index}]`);
}

/** Auth0's job-error code (its schema validator's vocabulary) for a zod issue. */
function auth0Code(issue: z.core.$ZodIssue, missing: boolean): string {
  const declared = (issue as { params?: { auth0Code?: string } }).params?.auth0Code;
  if (declared) return declared;
  switch (issue.code) {
    case 'invalid_type':
      return missing ? 'OBJECT_MISSING_REQUIRED_PROPERTY' : 'INVALID_TYPE';
    case 'invalid_format':
      return issue.format === 'regex' ? 'PATTERN' : 'INVALID_FORMAT';
    case 'too_big':
      return 'MAX_LENGTH';
    case 'too_small':
      return 'MIN_LENGTH';
    case 'invalid_value':
      return 'ENUM_MISMATCH';
    default:
      return 'INVALID_FORMAT';
  }
}

function valueAt(value: unknown, keys: ReadonlyArray<PropertyKey>): unknown {
  let current = value;
  for (const key of keys)
    current = typeof current === 'object' && current !== null ? (current as Record<PropertyKey, unknown>)[key] : undefined;
  return current;
}

function rowErrors(index: number, value: unknown, issues: ReadonlyArray<z.core.$ZodIssue>): ImportRowError[] {
  return issues.flatMap((issue): ImportRowError[] => {
    if (issue.code === 'unrecognized_keys')
      return issue.keys.map((key) => {
        const path = rowPath(index, [...issue.path, key]);
        const why = issue.path.length === 0 ? UNSUPPORTED_AUTH0_KEYS[key] : undefined;
        return {
          code: 'OBJECT_ADDITIONAL_PROPERTIES',
          message: why === undefined ? "unknown key (not in Auth0's user-import schema)" : `not imported: ${why}`,
          path,
        };
      });
    const path = rowPath(index, issue.path);
    const missing = issue.code === 'invalid_type' && valueAt(value, issue.path) === undefined;
    return [{ code: auth0Code(issue, missing), message: missing ? 'required' : issue.message, path }];
  });
}

function rowOf(index: number, user: ImportedUser): ImportRow {
  const hash = user.custom_password_hash?.hash.value ?? user.password_hash;
  return {
    index,
    // Auth0's `user_id`, kept as the user's id so that tokens' `sub` stays what it was.
    id: user.user_id,
    // A file of Auth0 users often has no username: the email is the login name, as `POST /users` does.
    username: (user.username ?? user.email) as string,
    email: user.email,
    emailVerified: user.email_verified,
    name: user.name,
    givenName: user.given_name,
    familyName: user.family_name,
    blocked: user.blocked,
    password: user.password,
    passwordHash: hash,
    userMetadata: user.user_metadata,
    appMetadata: user.app_metadata,
  };
}

/** Checks one element of the file's array; `index` is its position, which every error names. */
export function checkImportRow(value: unknown, index: number): RowCheck {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, errors: [{ code: 'INVALID_TYPE', message: 'expected a user object', path: `[${index}]` }] };
  const parsed = userSchema.safeParse(value);
  if (!parsed.success) return { ok: false, errors: rowErrors(index, value, parsed.error.issues) };
  return { ok: true, row: rowOf(index, parsed.data) };
}

/** The file's text as its array of rows, each still unchecked; a file that is no JSON array is refused whole. */
export function readImportFile(content: string, maxRows: number = Number.POSITIVE_INFINITY): unknown[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(content);
  } catch (err) {
    throw new ImportFileError(`the users file is not valid JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(parsed)) throw new ImportFileError('the users file must be a JSON array of user objects');
  if (parsed.length > maxRows)
    throw new ImportFileError(`the users file holds ${parsed.length} users; at most ${maxRows} per import (split it into several)`);
  return parsed;
}

/** What a job's error report may echo of a row: Auth0's profile keys, never a password, a hash or a mistyped key's value. */
const REPORTED_KEYS = [
  'email',
  'email_verified',
  'user_id',
  'username',
  'given_name',
  'family_name',
  'name',
  'nickname',
  'picture',
  'blocked',
  'user_metadata',
  'app_metadata',
] as const;

/** A row as a job's error report shows it: what was sent, without any password or hash. */
export function rowWithoutSecrets(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return {};
  const row = value as Record<string, unknown>;
  return Object.fromEntries(REPORTED_KEYS.filter((key) => row[key] !== undefined).map((key) => [key, row[key]]));
}
