/**
 * The configuration file's schema (DESIGN.md §2), the single source of truth
 * for its keys, defaults and documentation. Key names are a contract: they
 * are snake_case as Auth0's Management API spells them.
 */
import { z } from 'zod';
import { GRANT_TYPES } from '../domain/grant-types.js';
import { isSupportedPasswordHash, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, passwordPolicyRefusal } from '../domain/password-policy.js';
import { isIpOrCidr } from '../domain/ip.js';
import { looksLikeManagementApiAudience, MANAGEMENT_API_SCOPES } from '../domain/management-scopes.js';

export const SIGNING_ALGS = ['RS256', 'ES256', 'EdDSA'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

export const CLIENT_AUTH_METHODS = ['client_secret_post', 'client_secret_basic', 'private_key_jwt', 'none'] as const;
export type ClientAuthMethod = (typeof CLIENT_AUTH_METHODS)[number];

/** never: no second factor, even for enrolled users; optional: enrolled users need one; always: everyone (enrolling first). */
export const MFA_POLICIES = ['never', 'optional', 'always'] as const;
export type MfaPolicy = (typeof MFA_POLICIES)[number];

/*
 * How this file states defaults: each default is written once, on the field
 * (`.default(value)`). An object or list whose keys all have defaults is
 * `.prefault({})` (or `.prefault([...])`): zod parses that input, so the
 * object's default is derived from its fields' and never written out again.
 * Every key has a `.describe()` text: it is the operator documentation, shown
 * by `latchkey config schema` (JSON Schema, for editors) and rendered into
 * docs/configuration.md's reference table (src/config/reference.ts).
 */

const scopeToken = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'a scope token (RFC 6749 §3.3: printable ASCII, no space, quote or backslash)');

const seconds = (min: number) => z.number().int().min(min);

/** An IPv4 or IPv6 address or CIDR block, as net.BlockList and proxy-addr take them. */
const cidr = z.string().refine(isIpOrCidr, 'an IP address or CIDR block (192.0.2.0/24, 2001:db8::/32)');

export const BREACHED_LOGIN_ACTIONS = ['allow', 'flag', 'refuse'] as const;

const passwordPolicySchema = z.strictObject({
  min_length: z
    .number()
    .int()
    .min(1)
    .max(128)
    .default(MIN_PASSWORD_LENGTH)
    .describe('Characters (code points) a new password needs at least, 1-128 as Auth0 allows.'),
  refuse_breached: z.boolean().default(true).describe('Refuse new passwords found on the bundled list of common and breached passwords.'),
  on_breached_login: z
    .enum(BREACHED_LOGIN_ACTIONS)
    .default('flag')
    .describe(
      'A sign-in whose (correct) password is on that list: `allow` it silently, `flag` it (security event `login_success` with reason `password_breached`), or `refuse` it (`invalid_grant`, error_reason `password_breached`).',
    ),
});
export type PasswordPolicyConfig = z.output<typeof passwordPolicySchema>;
/** The policy of a connection that states none (and of one stored before policies existed). */
export const DEFAULT_PASSWORD_POLICY: PasswordPolicyConfig = passwordPolicySchema.parse({});

export const CONNECTION_TYPES = ['database', 'http', 'ldap'] as const;

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Where an LDAP entry's values become a local user's profile; each value names an LDAP attribute. */
const ldapAttributesSchema = z.strictObject({
  username: z.string().min(1).default('uid').describe("The attribute kept as the local user's name (Active Directory: `sAMAccountName`)."),
  email: z.string().min(1).default('mail').describe('The attribute that fills the `email` claim.'),
  name: z.string().min(1).default('cn').describe('The attribute that fills the `name` claim.'),
  given_name: z.string().min(1).default('givenName').describe('The attribute that fills the `given_name` claim.'),
  family_name: z.string().min(1).default('sn').describe('The attribute that fills the `family_name` claim.'),
  groups: z
    .string()
    .min(1)
    .default('memberOf')
    .describe(
      "The attribute listing the user's groups (DNs or names); the `groups` claim carries each value's first RDN value (`cn=engineers,ou=groups,…` → `engineers`).",
    ),
});
export type LdapAttributesConfig = z.output<typeof ldapAttributesSchema>;
/** The attributes of an LDAP connection that states none: `attributes` is optional, so the LDAP source applies these. */
export const DEFAULT_LDAP_ATTRIBUTES: LdapAttributesConfig = ldapAttributesSchema.parse({});

/**
 * The pool size of an LDAP connection that states none. Applied by the LDAP
 * source, not by the schema: a default on the field would put `pool_size`
 * on every connection type, where the type check below refuses it. The
 * schema states it only as documentation (JSON Schema's `default`).
 */
export const DEFAULT_LDAP_POOL_SIZE = 8;

/**
 * `KEY_file`: the path of a file holding KEY's value (Docker secrets). The
 * loader reads it before validation (config/external-values.ts), so the
 * schema only documents it, for editors and the reference.
 */
function fileSibling(key: string) {
  return z
    .string()
    .min(1)
    .optional()
    .describe(
      `A file holding \`${key}\` (relative to the configuration file; one trailing newline dropped), instead of \`${key}\` itself: a Docker or Kubernetes secret. Not with \`${key}\`.`,
    );
}

/** Keys only some connection types take, and which: a key on the wrong type is a mistake worth stopping for. */
const TYPE_ONLY_KEYS = {
  disable_signup: ['database'],
  url: ['http', 'ldap'],
  secret: ['http'],
  tls_ca: ['http', 'ldap'],
  start_tls: ['ldap'],
  bind_dn: ['ldap'],
  bind_password: ['ldap'],
  search_base: ['ldap'],
  search_filter: ['ldap'],
  user_dn_template: ['ldap'],
  attributes: ['ldap'],
  pool_size: ['ldap'],
} as const;

const connectionSchema = z
  .strictObject({
    name: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'letters, digits, _ . - (a connection name)')
      .describe("The connection's name: letters, digits, `_`, `.` and `-`. Requests name it as `realm`."),
    type: z
      .enum(CONNECTION_TYPES)
      .describe(
        '`database`: users stored in Latchkey (argon2id); `http`: a custom credential validator (docs/operations.md, User directories); `ldap`: an LDAP server or Active Directory.',
      ),
    password_policy: passwordPolicySchema
      .prefault({})
      .describe('Rules for new passwords (sign-up, changes, seed users) and what a sign-in with a breached password does.'),
    disable_signup: z
      .boolean()
      .optional()
      // Documentation only: an absent key reads as true (closed); a schema default would put it on every connection type.
      .meta({ default: true })
      .describe('`database`: `false` opens `POST /T/dbconnections/signup` (docs/accounts.md) for this connection; closed by default.'),
    url: z
      .url({ protocol: /^(https?|ldaps?)$/ })
      .optional()
      .describe(
        "`http`: the validator's URL, https (plain http only to a loopback validator). `ldap`: `ldap://host:389` or `ldaps://host:636`; plain `ldap://` only to a loopback directory unless `start_tls: true`. Required for both.",
      ),
    secret: z
      .string()
      .min(16, 'at least 16 characters')
      .max(512)
      .optional()
      .describe(
        '`http` (required): the shared HMAC key, at least 16 characters, that signs each request. Kept in memory only, never stored.',
      ),
    secret_file: fileSibling('secret'),
    timeout_ms: z
      .number()
      .int()
      .min(50)
      .max(30_000)
      .default(2000)
      .describe('`http`, `ldap`: how long the whole check (LDAP: search and bind) may take; beyond it the sign-in gets 503.'),
    tls_ca: z
      .string()
      .min(1)
      .optional()
      .describe(
        "`http`, `ldap`: a PEM file of the CA(s) to trust for this connection instead of the system's list (a private CA). Read at start-up.",
      ),
    start_tls: z
      .boolean()
      .optional()
      // Documentation only: `ldap.ts` reads an absent start_tls as false; a schema default would put it on every connection type.
      .meta({ default: false })
      .describe(
        '`ldap`: upgrade an `ldap://` connection with StartTLS before anything is sent (not with `ldaps://`, which is TLS already).',
      ),
    bind_dn: z
      .string()
      .min(1)
      .max(1024)
      .optional()
      .describe(
        '`ldap`: the service account that searches for users. Give `bind_dn` and `bind_password` together, or neither to search anonymously.',
      ),
    bind_password: z
      .string()
      .min(1)
      .max(1024)
      .optional()
      .describe("`ldap`: the service account's password. Kept in memory only, never stored."),
    bind_password_file: fileSibling('bind_password'),
    search_base: z
      .string()
      .min(1)
      .max(1024)
      .optional()
      .describe("`ldap`, search-then-bind (required with `search_filter`): where to search for the user's entry."),
    search_filter: z
      .string()
      .min(1)
      .max(1024)
      .refine((f) => f.includes('{{username}}'), 'must contain {{username}}')
      .optional()
      .describe(
        "`ldap`, search-then-bind: how to find the user's entry; `{{username}}` becomes the RFC 4515-escaped login name, e.g. `(uid={{username}})` or `(|(uid={{username}})(mail={{username}}))`. Give exactly one of `search_filter` and `user_dn_template`.",
      ),
    user_dn_template: z
      .string()
      .min(1)
      .max(1024)
      .refine((t) => t.includes('{{username}}'), 'must contain {{username}}')
      .optional()
      .describe(
        "`ldap`, direct bind instead of a search: the user's DN, e.g. `uid={{username}},ou=people,dc=corp,dc=test` (the login name RFC 4514-escaped); Active Directory also takes `{{username}}@corp.example`.",
      ),
    attributes: ldapAttributesSchema
      .optional()
      .describe('`ldap`: which LDAP attribute fills each profile claim; a key left out keeps its default.'),
    pool_size: z
      .number()
      .int()
      .min(1)
      .max(256)
      .optional()
      .meta({ default: DEFAULT_LDAP_POOL_SIZE })
      .describe(
        '`ldap`: connections kept open to the directory for binds; with `search_filter`, half as many more (at least one) for searches.',
      ),
  })
  .superRefine((connection, ctx) => {
    for (const [key, types] of Object.entries(TYPE_ONLY_KEYS)) {
      if (connection[key as keyof typeof TYPE_ONLY_KEYS] !== undefined && !(types as readonly string[]).includes(connection.type)) {
        ctx.addIssue({ code: 'custom', path: [key], message: `only for type: ${types.join(' or ')}` });
      }
    }
    if (connection.type === 'http') refineHttpConnection(connection, ctx);
    if (connection.type === 'ldap') refineLdapConnection(connection, ctx);
  });
function refineHttpConnection(connection: { url?: string | undefined; secret?: string | undefined }, ctx: z.RefinementCtx): void {
  if (connection.url === undefined) ctx.addIssue({ code: 'custom', path: ['url'], message: 'required for type: http (the validator URL)' });
  if (connection.secret === undefined)
    ctx.addIssue({ code: 'custom', path: ['secret'], message: 'required for type: http (the shared HMAC key)' });
  if (connection.url === undefined) return;
  const url = new URL(connection.url);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    ctx.addIssue({ code: 'custom', path: ['url'], message: 'must be https:// for type: http' });
  } else if (url.protocol !== 'https:' && !LOOPBACK_HOSTS.has(url.hostname)) {
    // Passwords cross this connection: plain HTTP only to a validator on the same host.
    ctx.addIssue({ code: 'custom', path: ['url'], message: 'must be https:// (plain http only to a loopback validator)' });
  }
}

function refineLdapConnection(
  connection: {
    url?: string | undefined;
    start_tls?: boolean | undefined;
    bind_dn?: string | undefined;
    bind_password?: string | undefined;
    search_base?: string | undefined;
    search_filter?: string | undefined;
    user_dn_template?: string | undefined;
  },
  ctx: z.RefinementCtx,
): void {
  if (connection.url === undefined) {
    ctx.addIssue({ code: 'custom', path: ['url'], message: 'required for type: ldap (ldap://host:389 or ldaps://host:636)' });
  } else {
    const url = new URL(connection.url);
    if (url.protocol !== 'ldap:' && url.protocol !== 'ldaps:') {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'must be ldap:// or ldaps:// for type: ldap' });
    } else if (url.protocol === 'ldaps:' && connection.start_tls) {
      ctx.addIssue({ code: 'custom', path: ['start_tls'], message: 'ldaps:// is already TLS; start_tls is for ldap:// URLs' });
    } else if (url.protocol === 'ldap:' && !connection.start_tls && !LOOPBACK_HOSTS.has(url.hostname)) {
      // Every password crosses this connection: in clear text only to a directory on the same host.
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message: 'use ldaps:// or start_tls: true (plain ldap:// only to a loopback directory)',
      });
    }
  }
  const searches = connection.search_filter !== undefined;
  if (searches === (connection.user_dn_template !== undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: ['search_filter'],
      message: 'give exactly one of search_filter (search, then bind as the user) or user_dn_template (bind directly)',
    });
  }
  if (searches && connection.search_base === undefined) {
    ctx.addIssue({ code: 'custom', path: ['search_base'], message: 'required with search_filter (where to search for users)' });
  }
  if ((connection.bind_dn === undefined) !== (connection.bind_password === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: ['bind_password'],
      message: 'give bind_dn and bind_password together (or neither, to search anonymously)',
    });
  }
}

const hooksSchema = z.strictObject({
  post_login: z
    .array(z.string().min(1))
    .max(20)
    .default([])
    .describe(
      'Module paths (relative to this file), run in this order after the credentials (and any second factor) are verified, and at every refresh.',
    ),
  timeout_ms: z
    .number()
    .int()
    .min(10)
    .max(30_000)
    .default(2000)
    .describe("The whole chain's time limit per sign-in; over it the sign-in fails closed (503 `hook_timeout`)."),
});

const rateLimitSchema = z.strictObject({
  requests: z.number().int().min(1).max(10_000_000).describe('Requests allowed in each window; beyond them 429.'),
  per_seconds: z.number().int().min(1).max(86_400).describe('The window, in seconds.'),
});

const managementApiSchema = z.strictObject({
  rate_limit: rateLimitSchema
    .default({ requests: 50, per_seconds: 1 })
    .describe(
      "Requests each caller (application) may make to the Management API per window; beyond them 429 too_many_requests with Retry-After (Auth0's limit is of this order).",
    ),
});

const bruteForceSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('Lock a login name for one end-user IP after consecutive failures from that IP.'),
  threshold: z.number().int().min(1).max(100).default(10).describe('Consecutive failures per login name and end-user IP before the lock.'),
  block_seconds: seconds(1)
    .max(31_536_000)
    .default(2_592_000)
    .describe(
      'How long a lock lasts unless an operator unblocks the name or its password changes; also the window failures are counted in.',
    ),
  same_password_window_seconds: seconds(0)
    .max(86_400)
    .default(3600)
    .describe(
      'How long a failed attempt is remembered (as a keyed hash), so the same wrong password repeated within it counts once; `0` counts every attempt.',
    ),
});

const backstopSchema = z.strictObject({
  enabled: z
    .boolean()
    .default(true)
    .describe(
      "Pause a login name's sign-ins from new places after consecutive failures from all IPs; IPs where the name signed in within the last 30 days still get through (docs/operations.md, Attack protection).",
    ),
  threshold: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(100)
    .describe(
      "Consecutive failures per login name from all IPs before the pause (NIST SP 800-63B's limit); failures are remembered for `brute_force.block_seconds`.",
    ),
  block_seconds: seconds(1)
    .max(31_536_000)
    .default(900)
    .describe('The first pause; each repeat doubles it, up to `max_block_seconds`. A value above `max_block_seconds` stops start-up.'),
  max_block_seconds: seconds(1)
    .max(31_536_000)
    .default(86_400)
    .describe(
      'The longest pause. The repeat count is forgotten `max_block_seconds` after a pause ends without a new one, or by `latchkey users unblock` or a password change.',
    ),
});
/** For the start-up message that names the defaults to go back to. */
const BACKSTOP_DEFAULTS = backstopSchema.parse({});

const suspiciousIpSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('Throttle an end-user IP with many failures across login names (both budgets below).'),
  per_day: z
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(100)
    .describe(
      'Failed sign-ins per end-user IP in 24 hours, all login names, refilling gradually (a sliding window); the same wrong password repeated counts once.',
    ),
  failed_checks_per_hour: z
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(300)
    .describe(
      'Failed password checks per end-user IP and hour, refilling gradually, repeats of one wrong password included (each costs an argon2 hash); beyond it 429 `ip_blocked`.',
    ),
});

const attackProtectionSchema = z.strictObject({
  brute_force: bruteForceSchema.prefault({}).describe('The per-IP lock: a login name, from one end-user IP.'),
  backstop: backstopSchema
    .prefault({})
    .describe('The lock across IPs: a login name, from everywhere (against attacks spread over many IPs).'),
  suspicious_ip: suspiciousIpSchema
    .prefault({})
    .describe('Budgets per end-user IP, across login names (against one IP trying many names).'),
  allowlist: z
    .array(cidr)
    .default([])
    .describe(
      'End-user IPs or CIDR blocks exempt from the per-IP lock and both IP budgets (not from the backstop, nor from `password_hashing.max_queue_per_ip`).',
    ),
  forwarded_for_header: z
    .string()
    .regex(/^[A-Za-z0-9-]{1,64}$/, 'an HTTP header name')
    .transform((h) => h.toLowerCase())
    // prefault, not default: the default is an input, so it goes through the transform and JSON Schema shows it.
    .prefault('auth0-forwarded-for')
    .describe(
      "The header carrying the end-user IP from applications with `trust_forwarded_for`; other clients' headers are ignored (and logged).",
    ),
});
export type AttackProtectionConfig = z.output<typeof attackProtectionSchema>;

const rateLimitsSchema = z.strictObject({
  tenant: rateLimitSchema.optional().describe('All token requests of the tenant, counted before client authentication.'),
  client: rateLimitSchema
    .optional()
    .describe("Each application's token requests, counted after client authentication, unless it sets its own `rate_limit`."),
});
export type RateLimitsConfig = z.output<typeof rateLimitsSchema>;
export type RateLimitConfig = z.output<typeof rateLimitSchema>;

/** The protection keys of a stored tenant, with the defaults filled in (stored before they existed, or written by a test). */
export function tenantProtectionDefaults(settings: {
  attack_protection?: z.input<typeof attackProtectionSchema> | undefined;
  rate_limits?: RateLimitsConfig | undefined;
  trusted_proxies?: string[] | undefined;
}): { attack_protection: AttackProtectionConfig; rate_limits: RateLimitsConfig; trusted_proxies: string[] } {
  return {
    attack_protection: attackProtectionSchema.parse(settings.attack_protection ?? {}),
    rate_limits: rateLimitsSchema.parse(settings.rate_limits ?? {}),
    trusted_proxies: settings.trusted_proxies ?? [],
  };
}

export const apiSchema = z.strictObject({
  identifier: z
    .string()
    .min(1)
    .max(512)
    .describe("The API's `audience`, as requests name it (usually a URL). Entra-style scopes `{identifier}/{scope}` name it too."),
  scopes: z
    .array(scopeToken)
    .default([])
    .describe(
      'The scopes the API defines. A password grant that asks for none gets them all; scopes nobody defines are dropped from tokens.',
    ),
  token_lifetime: seconds(1).max(2_592_000).default(86_400).describe('Seconds an access token for this API is valid (as short as 1).'),
  allow_offline_access: z
    .boolean()
    .default(false)
    .describe('Whether refresh tokens may be issued for this API (`offline_access` asked by an application that may refresh).'),
  signing_alg: z
    .enum(SIGNING_ALGS)
    .default('RS256')
    .describe("The algorithm of this API's access tokens; Auth0's SDKs and most API middleware expect RS256."),
});

const refreshTokenSchema = z.strictObject({
  reuse_interval: seconds(0)
    .max(300)
    .default(0)
    .describe(
      'Seconds in which a rotated refresh token presented again returns the same new token (a client retrying after a lost response).',
    ),
  idle_lifetime: seconds(1).default(1_296_000).describe('Seconds a refresh token lives unused.'),
  absolute_lifetime: seconds(1)
    .default(2_592_000)
    .describe('Seconds a refresh-token family (one sign-in and all its rotations) lives, however it is used; at least `idle_lifetime`.'),
});

const jwkSchema = z.looseObject({
  kty: z.string().describe('The key type (`RSA`, `EC`, `OKP`); the other members as RFC 7517 defines them.'),
});

/**
 * A registered redirect URI (RFC 6749 §3.1.2, RFC 8252 §7): absolute, no
 * fragment; https, a private-use scheme with a dot (reverse domain name), or
 * http only to a loopback host.
 */
const redirectUri = z
  .string()
  .max(2000)
  .refine(
    isRegistrableRedirectUri,
    'an absolute URL without fragment: https, a private-use scheme (com.example.app:/cb), or http to 127.0.0.1, [::1] or localhost',
  );

export function isRegistrableRedirectUri(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (value.includes('#')) return false;
  if (url.protocol === 'https:') return url.host !== '';
  if (url.protocol === 'http:') return LOOPBACK_HOSTS.has(url.hostname);
  // RFC 8252 §7.1: private-use schemes are reverse domain names; a scheme without a dot (javascript:, data:) is refused.
  return /^[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+:$/.test(url.protocol);
}

export const applicationSchema = z
  .strictObject({
    client_id: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[\x21-\x7E]+$/, 'printable ASCII without spaces')
      .describe("The application's `client_id`: printable ASCII without spaces."),
    client_secret: z
      .string()
      .min(8, 'at least 8 characters')
      .max(512)
      .optional()
      .describe(
        'Required for `client_secret_post` and `client_secret_basic`, absent otherwise; at least 8 characters. Stored only as an HMAC.',
      ),
    client_secret_file: fileSibling('client_secret'),
    name: z
      .string()
      .max(256)
      .optional()
      .describe("The application's name, shown to people on the sign-in, device and logout pages (absent: the client_id)."),
    callbacks: z
      .array(redirectUri)
      .default([])
      .describe(
        'The redirect_uris the authorization endpoint may send codes to, compared exactly (RFC 9700 §2.1). https, a private-use scheme (`com.example.app:/callback`), or http to a loopback IP, whose port may then differ (RFC 8252 §7.3). Required for `authorization_code`.',
      ),
    allowed_logout_urls: z
      .array(redirectUri)
      .default([])
      .describe('Where logout may send the browser afterwards (`post_logout_redirect_uri`, `returnTo`), compared exactly.'),
    token_endpoint_auth_method: z
      .enum(CLIENT_AUTH_METHODS)
      .default('client_secret_post')
      .describe(
        'How the application authenticates at the token endpoint: `client_secret_post`, `client_secret_basic`, `private_key_jwt` (a signed assertion, its keys in `jwks`) or `none` (a public client).',
      ),
    grant_types: z
      .array(z.enum(GRANT_TYPES))
      .default(['password', 'refresh_token'])
      .describe(
        'The grants the application may use at the token endpoint; `client_credentials` needs a confidential client and a client grant.',
      ),
    jwks: z
      .strictObject({
        keys: z
          .array(jwkSchema)
          .describe('The public keys (JWKs); at least one for `private_key_jwt` (an assertion may omit `kid` when there is only one).'),
      })
      .optional()
      .describe("The application's public keys for `private_key_jwt`, as a JWK Set (RFC 7517)."),
    default_audience: z
      .string()
      .min(1)
      .optional()
      .describe("The API (an `apis[].identifier`) when a request names none; wins over the tenant's `default_audience`."),
    refresh_token: refreshTokenSchema.prefault({}).describe("Rotation and lifetimes of this application's refresh tokens."),
    resource_server: z
      .boolean()
      .default(false)
      .describe('May introspect any access token whose audience is its `default_audience` (required with it).'),
    trust_forwarded_for: z
      .boolean()
      .default(false)
      .describe(
        "Honour the end-user IP this (confidential) application's backend sends in `attack_protection.forwarded_for_header`, for attack protection; other clients' headers are ignored and logged.",
      ),
    rate_limit: rateLimitSchema.optional().describe("This application's token requests; wins over the tenant's `rate_limits.client`."),
    mfa: z
      .enum(MFA_POLICIES)
      .optional()
      .describe("The `mfa` policy for this application, winning over the tenant's. Absent: the tenant's."),
    connections: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe(
        "The connections (realms) this application may sign users in with. Absent: all of the tenant's. Without `realm` it uses the tenant's `default_directory` if listed, else the first listed.",
      ),
  })
  .superRefine((app, ctx) => {
    const needsSecret = app.token_endpoint_auth_method === 'client_secret_post' || app.token_endpoint_auth_method === 'client_secret_basic';
    if (needsSecret && app.client_secret === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['client_secret'],
        message: `required when token_endpoint_auth_method is ${app.token_endpoint_auth_method}`,
      });
    }
    if (!needsSecret && app.client_secret !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['client_secret'],
        message: `must be absent when token_endpoint_auth_method is ${app.token_endpoint_auth_method}`,
      });
    }
    if (app.token_endpoint_auth_method === 'private_key_jwt' && (app.jwks === undefined || app.jwks.keys.length === 0)) {
      ctx.addIssue({ code: 'custom', path: ['jwks'], message: 'at least one public key is required for private_key_jwt' });
    }
    if (app.token_endpoint_auth_method === 'none' && app.grant_types.includes('client_credentials')) {
      ctx.addIssue({
        code: 'custom',
        path: ['grant_types'],
        message: 'client_credentials needs a confidential client (token_endpoint_auth_method other than none)',
      });
    }
    if (app.resource_server && app.default_audience === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['default_audience'],
        message: 'required with resource_server: true (the API whose tokens it may introspect)',
      });
    }
    if (app.trust_forwarded_for && app.token_endpoint_auth_method === 'none') {
      ctx.addIssue({
        code: 'custom',
        path: ['trust_forwarded_for'],
        message: 'needs a confidential client: anyone can present a public client_id, so its forwarded IP proves nothing',
      });
    }
    if (app.grant_types.includes('authorization_code') && app.callbacks.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['callbacks'], message: 'at least one callback is required for the authorization_code grant' });
    }
    if (app.refresh_token.absolute_lifetime < app.refresh_token.idle_lifetime) {
      ctx.addIssue({ code: 'custom', path: ['refresh_token', 'absolute_lifetime'], message: 'must be at least idle_lifetime' });
    }
  });

/**
 * DESIGN.md §9 (Auth0's model): client_credentials gets a token for an API
 * only through a client grant naming that application and API, with at most
 * these scopes.
 */
const clientGrantSchema = z.strictObject({
  client_id: z.string().min(1).max(128).describe('The application (an `applications[].client_id` of this tenant).'),
  audience: z.string().min(1).max(512).describe('The API (an `apis[].identifier` of this tenant).'),
  scope: z.array(scopeToken).describe("The API's scopes the application may get; `[]` gives tokens for the API with no scope."),
});

const userSchema = z
  .strictObject({
    connection: z.string().min(1).describe('The `database` connection the user belongs to.'),
    username: z.string().min(1).max(256).describe('The login name, unique within the connection.'),
    email: z.email().max(256).optional().describe('The `email` claim.'),
    email_verified: z.boolean().optional().describe('The `email_verified` claim.'),
    name: z.string().max(256).optional().describe('The `name` claim (absent: the username).'),
    given_name: z.string().max(256).optional().describe('The `given_name` claim.'),
    family_name: z.string().max(256).optional().describe('The `family_name` claim.'),
    // The connection's password policy is checked in the tenant's refinement, so `config check` catches what `serve` would refuse.
    password: z
      .string()
      .min(1)
      .max(MAX_PASSWORD_LENGTH)
      .optional()
      .describe(
        "The user's password, checked against the connection's `password_policy`; give exactly one of `password` and `password_hash`.",
      ),
    password_hash: z
      .string()
      .regex(/^\$(argon2id|argon2i|2a|2b|2y)\$/, 'an argon2 or bcrypt hash ($argon2id$…, $2b$…)')
      .refine(isSupportedPasswordHash, 'a complete argon2 or bcrypt hash (a bcrypt hash is $2b$NN$ and 53 more characters)')
      .optional()
      .describe('Instead of `password`: an argon2 or bcrypt hash (`$argon2id$…`, `$2b$…`) imported from another system.'),
    blocked: z
      .boolean()
      .optional()
      .describe('`true` blocks the user and ends their sessions; `false` lifts a block (reviving no session). Absent: left as it is.'),
  })
  .superRefine((user, ctx) => {
    if ((user.password === undefined) === (user.password_hash === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['password'], message: 'give exactly one of password or password_hash' });
    }
  });

const browserSessionSchema = z.strictObject({
  idle_lifetime: seconds(60)
    .max(2_592_000)
    .default(259_200)
    .describe("Seconds a browser session lives without use (Auth0's inactivity timeout: 3 days)."),
  absolute_lifetime: seconds(60)
    .max(31_536_000)
    .default(604_800)
    .describe(
      'Seconds after the sign-in when the browser must sign in again, however it is used (Auth0: 7 days); at least `idle_lifetime`.',
    ),
});
export type BrowserSessionConfig = z.output<typeof browserSessionSchema>;
export const DEFAULT_BROWSER_SESSION: BrowserSessionConfig = browserSessionSchema.parse({});

const deviceFlowSchema = z.strictObject({
  expires_in: seconds(60).max(3600).default(900).describe('Seconds a device code and its user code stay valid (RFC 8628 §3.2).'),
  interval: seconds(1).max(60).default(5).describe('Seconds a device waits between polls; faster polls get `slow_down` (RFC 8628 §3.5).'),
});
export type DeviceFlowConfig = z.output<typeof deviceFlowSchema>;
export const DEFAULT_DEVICE_FLOW: DeviceFlowConfig = deviceFlowSchema.parse({});

const tenantSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and -, used in URLs')
      .describe('Lowercase letters, digits and `-`. The tenant is served under `{public_url}/{name}/`, its issuer.'),
    default_directory: z
      .string()
      .min(1)
      .optional()
      .describe(
        'The connection for password grants without `realm`. Absent: the only connection, if the tenant has one (else such requests are refused).',
      ),
    default_audience: z
      .string()
      .min(1)
      .optional()
      .describe("The API (an `apis[].identifier`) when a request names none; an application's `default_audience` wins."),
    id_token_signing_alg: z
      .enum(SIGNING_ALGS)
      .default('RS256')
      .describe("The algorithm of the tenant's id_tokens; Auth0's SDKs accept only RS256."),
    id_token_lifetime: seconds(1).max(2_592_000).default(36_000).describe('Seconds an id_token is valid.'),
    connections: z
      .array(connectionSchema)
      .prefault([{ name: 'Username-Password-Authentication', type: 'database' }])
      .describe('The user directories (realms) of the tenant.'),
    hooks: hooksSchema
      .prefault({})
      .describe("Post-login hooks: ES modules exporting `onExecutePostLogin(event, api)`, Auth0 Actions' shape (docs/hooks.md)."),
    apis: z
      .array(apiSchema)
      .default([])
      .describe(
        "The APIs (resource servers) tokens are for. The identifier `{public_url}/{tenant}/mfa/` is the built-in MFA API's (it manages users' factors, docs/operations.md) and stops start-up if declared.",
      ),
    applications: z.array(applicationSchema).default([]).describe('The applications (OAuth clients) that may ask for tokens.'),
    client_grants: z
      .array(clientGrantSchema)
      .default([])
      .describe(
        'Which APIs each application may call with `client_credentials`, and with which scopes; none: no API. At most one per application and API (see Client grants).',
      ),
    users: z
      .array(userSchema)
      .default([])
      .describe(
        'Seed users (demos, tests): created or updated at each start, never deleted. A `password` or `password_hash` that no longer matches, or `blocked: true` on an unblocked user, ends their sessions at the next start (every refresh token revoked).',
      ),
    attack_protection: attackProtectionSchema
      .prefault({})
      .describe(
        "Brute-force protection of the password-checking grants, on by default as Auth0's is (docs/operations.md, Attack protection).",
      ),
    rate_limits: rateLimitsSchema.prefault({}).describe('Budgets of token requests, `{ requests, per_seconds }`; none by default.'),
    trusted_proxies: z
      .array(cidr)
      .default([])
      .describe('IPs or CIDR blocks of reverse proxies whose `X-Forwarded-For` is believed; it is ignored from any other peer.'),
    mfa: z
      .enum(MFA_POLICIES)
      .default('optional')
      .describe(
        "A second factor in the password flow (Auth0's shape): `never` (off), `optional` (users who enrolled a factor need it), `always` (everyone; users without a factor enroll first). A token for the built-in MFA API always needs a second factor, whatever this says.",
      ),
    browser_session: browserSessionSchema
      .prefault({})
      .describe(
        'The sign-in session the hosted pages keep in a cookie, so a second authorization within it needs no password (docs/browser-sign-in.md).',
      ),
    device_flow: deviceFlowSchema
      .prefault({})
      .describe('The device authorization grant (RFC 8628): how long a code lives and how often devices poll.'),
    administrators: z
      .array(z.string().min(1).max(512))
      .default([])
      .describe(
        "Users (by email or username, case-insensitive) who may get a token for the tenant's Management API (`{issuer}api/v2/`) by signing in through the hosted pages with a second factor (docs/management-api.md). Applications get one through a client grant instead.",
      ),
    management_api: managementApiSchema
      .prefault({})
      .describe("The tenant's Management API at /T/api/v2/ (Auth0's v2 shapes, docs/management-api.md)."),
  })
  .superRefine((tenant, ctx) => {
    const connectionNames = new Set(tenant.connections.map((c) => c.name));
    const apiIds = new Set(tenant.apis.map((a) => a.identifier));
    reportDuplicates(
      tenant.connections.map((c) => c.name),
      'connections',
      'name',
      ctx,
    );
    reportDuplicates(
      tenant.apis.map((a) => a.identifier),
      'apis',
      'identifier',
      ctx,
    );
    reportDuplicates(
      tenant.applications.map((a) => a.client_id),
      'applications',
      'client_id',
      ctx,
    );
    if (tenant.default_directory !== undefined && !connectionNames.has(tenant.default_directory)) {
      ctx.addIssue({
        code: 'custom',
        path: ['default_directory'],
        message: `names no connection of this tenant (have: ${[...connectionNames].join(', ')})`,
      });
    }
    if (tenant.default_audience !== undefined && !apiIds.has(tenant.default_audience)) {
      ctx.addIssue({ code: 'custom', path: ['default_audience'], message: 'names no API identifier of this tenant' });
    }
    tenant.applications.forEach((app, i) => {
      app.connections?.forEach((name, j) => {
        if (!connectionNames.has(name))
          ctx.addIssue({
            code: 'custom',
            path: ['applications', i, 'connections', j],
            message: `names no connection of this tenant (have: ${[...connectionNames].join(', ')})`,
          });
      });
      if (app.default_audience !== undefined && !apiIds.has(app.default_audience)) {
        ctx.addIssue({ code: 'custom', path: ['applications', i, 'default_audience'], message: 'names no API identifier of this tenant' });
      }
    });
    refineClientGrants(tenant, ctx);
    if (tenant.browser_session.absolute_lifetime < tenant.browser_session.idle_lifetime) {
      ctx.addIssue({ code: 'custom', path: ['browser_session', 'absolute_lifetime'], message: 'must be at least idle_lifetime' });
    }
    tenant.users.forEach((user, i) => {
      const connection = tenant.connections.find((c) => c.name === user.connection);
      if (!connection) {
        ctx.addIssue({ code: 'custom', path: ['users', i, 'connection'], message: 'names no connection of this tenant' });
        return;
      }
      if (connection.type !== 'database') {
        ctx.addIssue({
          code: 'custom',
          path: ['users', i, 'connection'],
          message: `names a ${connection.type} connection: its users live in the validator, not in Latchkey`,
        });
        return;
      }
      const refusal = user.password === undefined ? undefined : passwordPolicyRefusal(connection.password_policy, user.password);
      if (refusal)
        ctx.addIssue({
          code: 'custom',
          path: ['users', i, 'password'],
          message: `${refusal.message} (rule ${refusal.rule} of connection ${connection.name})`,
        });
    });
    const backstop = tenant.attack_protection.backstop;
    if (backstop.block_seconds > backstop.max_block_seconds) {
      // Refused rather than clamped: a file asking for longer blocks than the cap would otherwise be silently ignored.
      ctx.addIssue({
        code: 'custom',
        path: ['attack_protection', 'backstop', 'block_seconds'],
        message: `the first backstop block (${backstop.block_seconds} s) is longer than backstop.max_block_seconds (${backstop.max_block_seconds} s); lower block_seconds (default ${BACKSTOP_DEFAULTS.block_seconds}) or raise max_block_seconds (default ${BACKSTOP_DEFAULTS.max_block_seconds})`,
      });
    }
  });

function refineClientGrants(
  tenant: {
    applications: Array<{ client_id: string }>;
    apis: Array<{ identifier: string; scopes: string[] }>;
    client_grants: Array<{ client_id: string; audience: string; scope: string[] }>;
  },
  ctx: z.RefinementCtx,
): void {
  const clientIds = new Set(tenant.applications.map((a) => a.client_id));
  const apis = new Map(tenant.apis.map((a) => [a.identifier, a]));
  const seen = new Set<string>();
  tenant.client_grants.forEach((grant, i) => {
    if (!clientIds.has(grant.client_id))
      ctx.addIssue({ code: 'custom', path: ['client_grants', i, 'client_id'], message: 'names no application of this tenant' });
    // The built-in Management API: its exact identifier needs public_url, checked in load.ts.
    const api = looksLikeManagementApiAudience(grant.audience)
      ? { identifier: grant.audience, scopes: [...MANAGEMENT_API_SCOPES] as string[] }
      : apis.get(grant.audience);
    if (!api) {
      ctx.addIssue({ code: 'custom', path: ['client_grants', i, 'audience'], message: 'names no API identifier of this tenant' });
    } else {
      grant.scope.forEach((scope, j) => {
        if (!api.scopes.includes(scope))
          ctx.addIssue({
            code: 'custom',
            path: ['client_grants', i, 'scope', j],
            message: `is not a scope of the API ${api.identifier} (it has: ${api.scopes.join(', ') || 'none'})`,
          });
      });
    }
    const key = JSON.stringify([grant.client_id, grant.audience]);
    if (seen.has(key))
      ctx.addIssue({
        code: 'custom',
        path: ['client_grants', i],
        message: `duplicate client grant for ${grant.client_id} and ${grant.audience}: give one entry per application and API`,
      });
    seen.add(key);
  });
}

function reportDuplicates(values: string[], list: string, key: string, ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  values.forEach((value, i) => {
    if (seen.has(value)) ctx.addIssue({ code: 'custom', path: [list, i, key], message: `duplicate ${key} "${value}"` });
    seen.add(value);
  });
}

export const configSchema = z
  .strictObject({
    public_url: z
      .url({ protocol: /^https?$/ })
      .refine((u) => !u.endsWith('/'), 'no trailing slash: the issuer is {public_url}/{tenant}/')
      .optional()
      .describe(
        "The base of every issuer: a tenant is served under `{public_url}/{tenant}/`, the exact `iss` of its tokens. No trailing slash. Set it to the URL clients reach (a balancer's or reverse proxy's). Absent: `http(s)://{listen.host}:{listen.port}` (https with `tls`), allowed only while `listen.host` is a loopback address: with `0.0.0.0`, `::` or any other host it is required, since clients elsewhere cannot use an issuer on 127.0.0.1.",
      ),
    listen: z
      .strictObject({
        host: z
          .string()
          .default('127.0.0.1')
          .describe('The address of the public listener: `127.0.0.1` for this host only, `0.0.0.0` or `::` for every interface.'),
        port: z
          .number()
          .int()
          .min(0)
          .max(65535)
          .default(3000)
          .describe(
            'The port of the public listener; `0` picks a free one (needs `public_url`). `LATCHKEY_LISTEN_PORT` wins, so several nodes can share one file.',
          ),
        // Far above what one node serves, low enough to keep file descriptors for the database and logs.
        max_connections: z
          .number()
          .int()
          .min(1)
          .max(1_000_000)
          .default(10_000)
          .describe(
            'Open connections the public listener holds at once; one beyond it is closed as soon as it arrives (logged once a minute, counted in `latchkey_http_connections_refused_total`). A cap for the whole node: per-IP limits belong to the reverse proxy (docs/deploy.md).',
          ),
      })
      .prefault({})
      .describe('The public listener: the token endpoint, discovery, userinfo, the hosted pages and every other endpoint clients use.'),
    operations: z
      .strictObject({
        listen: z
          .strictObject({
            host: z
              .string()
              .min(1)
              .default('127.0.0.1')
              .describe('Keep it on loopback or a private interface, never where clients reach it.'),
            // OpenTelemetry's Prometheus exporter's default port, the one DESIGN.md §2's example uses.
            port: z
              .number()
              .int()
              .min(0)
              .max(65535)
              .default(9464)
              .describe('Must differ from the public port; `0` picks a free port (tests). `LATCHKEY_OPERATIONS_PORT` wins.'),
          })
          .describe('Where `/metrics` (and `/healthz`, `/readyz`, `/readyz/database`) are served, apart from the public port.'),
      })
      .optional()
      .describe(
        'The operations listener (docs/operations.md): Prometheus `GET /metrics` in plain HTTP, never on the public port, since its counters tell an unknown user from a wrong password. Absent: none.',
      ),
    tls: z
      .strictObject({
        cert: z.string().min(1).describe('A PEM file of the certificate (with its chain).'),
        key: z.string().min(1).describe("A PEM file of the certificate's private key."),
      })
      .optional()
      .describe(
        "Serve HTTPS directly (MSAL and Auth0's SDKs insist on https). Absent: plain HTTP, for a reverse proxy that terminates TLS.",
      ),
    database: z
      .string()
      .regex(/^(sqlite:|postgres:\/\/|postgresql:\/\/)/, 'sqlite:PATH or postgres://…')
      .default('sqlite:./data/latchkey.db')
      .describe(
        '`sqlite:PATH` (one node), or `postgres://user:password@host:5432/db` for several nodes. Migrated at start when empty. `LATCHKEY_DATABASE_URL` wins.',
      ),
    database_file: fileSibling('database'),
    database_pool_size: z.number().int().min(1).max(1000).default(10).describe('PostgreSQL: connections per node.'),
    redis: z
      .string()
      .regex(/^rediss?:\/\//, 'redis://… or rediss://…')
      .optional()
      .describe(
        '`redis://…` or `rediss://…`: attack-protection counters, rate limits, single-use keys (client-assertion `jti`, mfa_token, one-time codes) and word of signing-key changes live in Redis instead of the database; what needs it fails closed (503) while it is down. `LATCHKEY_REDIS_URL` wins.',
      ),
    redis_file: fileSibling('redis'),
    log_level: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info')
      .describe("The pino level of the server's JSON log lines."),
    password_hashing: z
      .strictObject({
        concurrency: z
          .number()
          .int()
          .min(1)
          .max(64)
          .optional()
          .describe('Password verifications in flight at once. Absent: the number of cores.'),
        max_queue: z
          .number()
          .int()
          .min(0)
          .max(100_000)
          .default(256)
          .describe('Verifications waiting for a slot; beyond them requests get 503 `hash_queue_full`.'),
        max_queue_per_ip: z
          .number()
          .int()
          .min(1)
          .max(100_000)
          .optional()
          .describe(
            'Places (running and waiting) one end-user IP (IPv6: its /64) may hold at once; beyond them that IP gets 429 `ip_concurrent_checks` (`Retry-After: 1`) while other IPs keep their places, and waiters are served round-robin across IPs. Absent: a quarter of `concurrency + max_queue`, at least 1. Behind a backend that does not forward end-user IPs every user shares one IP: forward them (`trust_forwarded_for`) or raise this.',
          ),
      })
      .prefault({})
      .describe('The queue in front of password verification (argon2id is slow on purpose).'),
    email: z
      .strictObject({
        from: z.string().min(3).default('Latchkey <no-reply@localhost>').describe('The sender of one-time codes by email.'),
        smtp_url: z
          .string()
          .regex(/^smtps?:\/\//, 'smtp://… or smtps://…')
          .optional()
          .describe('`smtp://user:pass@host:587` or `smtps://…`: send through this SMTP server (nodemailer).'),
        outbox_dir: z
          .string()
          .min(1)
          .optional()
          .describe(
            'Development, without `smtp_url`: each message is written to this directory as a JSON file. Absent: `{data dir}/outbox`.',
          ),
      })
      .prefault({})
      .describe('How one-time codes are sent by email.'),
    security_events: z
      .strictObject({
        retention_days: z.number().int().min(1).max(3650).default(30).describe('Security events older than this are deleted.'),
      })
      .prefault({})
      .describe('The security event log (`latchkey logs`, docs/operations.md).'),
    tenants: z
      .array(tenantSchema)
      .min(1)
      .describe('At least one. Each tenant is an issuer of its own, with its own keys, connections, APIs and applications.'),
  })
  .superRefine((config, ctx) => {
    reportDuplicates(
      config.tenants.map((t) => t.name),
      'tenants',
      'name',
      ctx,
    );
    if (config.listen.port === 0 && config.public_url === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['public_url'],
        message: 'required with listen.port 0: every issuer must name the port clients reach',
      });
    }
    if (config.public_url === undefined && !isLoopbackHost(config.listen.host)) {
      // The default issuer would be the bind address: a wildcard gives 127.0.0.1 (issue #15 point 7: it silently did).
      const wildcard = isWildcardHost(config.listen.host);
      const issuer = `${config.tls ? 'https' : 'http'}://${wildcard ? '127.0.0.1' : config.listen.host}:${config.listen.port}/{tenant}/`;
      ctx.addIssue({
        code: 'custom',
        path: ['public_url'],
        message: `required with listen.host ${config.listen.host}: without it every issuer (the iss of every token) would be ${issuer}, ${
          wildcard
            ? 'which clients on other machines cannot use'
            : 'the bind address, rarely what clients reach behind a proxy or a DNS name'
        }; set public_url to the address clients use (e.g. https://login.example.com)`,
      });
    }
    const operations = config.operations?.listen;
    if (
      operations &&
      operations.port !== 0 &&
      operations.port === config.listen.port &&
      hostsOverlap(operations.host, config.listen.host)
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['operations', 'listen', 'port'],
        message: `must differ from listen.port (${config.listen.port}): metrics are never served on the public port`,
      });
    }
  });

/** Two listen hosts that would claim the same port: equal, or either a wildcard address. */
function hostsOverlap(a: string, b: string): boolean {
  return a === b || isWildcardHost(a) || isWildcardHost(b);
}

function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]';
}

/** Reachable from this machine only (127.0.0.0/8, ::1, localhost): the one case where the listen address can be the issuer. */
function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127(\.\d{1,3}){3}$/.test(bare) || /^::ffff:127(\.\d{1,3}){3}$/.test(bare);
}

export type LatchkeyConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type TenantConfig = ParsedConfig['tenants'][number];
export type ApiConfig = TenantConfig['apis'][number];
export type ApplicationConfig = TenantConfig['applications'][number];
export type ConnectionConfig = TenantConfig['connections'][number];
