/**
 * The configuration file's schema (DESIGN.md §2), the single source of truth
 * for its keys, defaults and documentation. Key names are a contract: they
 * are snake_case as Auth0's Management API spells them.
 */
import { z } from 'zod';
import { GRANT_TYPES } from '../domain/grant-types.js';
import { isSupportedPasswordHash, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, passwordPolicyRefusal } from '../domain/password-policy.js';
import { isIpOrCidr } from '../domain/ip.js';

export const SIGNING_ALGS = ['RS256', 'ES256', 'EdDSA'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

export const CLIENT_AUTH_METHODS = ['client_secret_post', 'client_secret_basic', 'private_key_jwt', 'none'] as const;
export type ClientAuthMethod = (typeof CLIENT_AUTH_METHODS)[number];

/** never: no second factor, even for enrolled users; optional: enrolled users need one; always: everyone (enrolling first). */
export const MFA_POLICIES = ['never', 'optional', 'always'] as const;
export type MfaPolicy = (typeof MFA_POLICIES)[number];

const scopeToken = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'a scope token (RFC 6749 §3.3: printable ASCII, no space, quote or backslash)');

const seconds = (min: number) => z.number().int().min(min);

/** An IPv4 or IPv6 address or CIDR block, as net.BlockList and proxy-addr take them. */
const cidr = z.string().refine(isIpOrCidr, 'an IP address or CIDR block (192.0.2.0/24, 2001:db8::/32)');

/** server.maxConnections of the public listener: far above what one node serves, low enough to keep file descriptors for the database and logs. */
export const DEFAULT_MAX_CONNECTIONS = 10_000;
/** OpenTelemetry's Prometheus exporter's default port, the one DESIGN.md §2's example uses. */
export const DEFAULT_OPERATIONS_PORT = 9464;

export const BREACHED_LOGIN_ACTIONS = ['allow', 'flag', 'refuse'] as const;

const passwordPolicySchema = z.strictObject({
  min_length: z.number().int().min(1).max(128).default(MIN_PASSWORD_LENGTH).describe('characters a new password needs at least (Auth0 allows 1-128)'),
  refuse_breached: z.boolean().default(true).describe('refuse new passwords found on the bundled list of common and breached passwords'),
  on_breached_login: z
    .enum(BREACHED_LOGIN_ACTIONS)
    .default('flag')
    .describe('a login whose password is on the list: allow silently, flag (security event password_breached), or refuse (invalid_grant, error_reason password_breached)'),
});
export type PasswordPolicyConfig = z.output<typeof passwordPolicySchema>;
export const DEFAULT_PASSWORD_POLICY: PasswordPolicyConfig = { min_length: MIN_PASSWORD_LENGTH, refuse_breached: true, on_breached_login: 'flag' };

export const CONNECTION_TYPES = ['database', 'http', 'ldap'] as const;

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Where an LDAP entry's values become a local user's profile; each value names an LDAP attribute. */
const ldapAttributesSchema = z.strictObject({
  username: z.string().min(1).default('uid').describe("the entry's login name, kept as the local username (Active Directory: sAMAccountName)"),
  email: z.string().min(1).default('mail'),
  name: z.string().min(1).default('cn'),
  given_name: z.string().min(1).default('givenName'),
  family_name: z.string().min(1).default('sn'),
  groups: z.string().min(1).default('memberOf').describe('group DNs (or names); the claim carries each group\'s first RDN value'),
});
export type LdapAttributesConfig = z.output<typeof ldapAttributesSchema>;
export const DEFAULT_LDAP_ATTRIBUTES: LdapAttributesConfig = { username: 'uid', email: 'mail', name: 'cn', given_name: 'givenName', family_name: 'sn', groups: 'memberOf' };

/** Keys only some connection types take, and which: a key on the wrong type is a mistake worth stopping for. */
const TYPE_ONLY_KEYS = {
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
    name: z.string().min(1).max(128).regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'letters, digits, _ . - (a connection name)'),
    type: z.enum(CONNECTION_TYPES).describe('database: users stored in Latchkey (argon2id); http: a custom credential validator; ldap: an LDAP or Active Directory server'),
    password_policy: passwordPolicySchema.default(DEFAULT_PASSWORD_POLICY),
    url: z.url({ protocol: /^(https?|ldaps?)$/ }).optional().describe('http: where the validator listens; ldap: ldap://host:port or ldaps://host:port'),
    secret: z.string().min(16, 'at least 16 characters').max(512).optional().describe('http: the shared HMAC key that signs each request'),
    timeout_ms: z.number().int().min(50).max(30_000).default(2000).describe('http, ldap: how long to wait for the directory before 503'),
    tls_ca: z.string().min(1).optional().describe('http, ldap: a PEM file of the CA(s) to trust instead of the system list (a private CA)'),
    start_tls: z.boolean().optional().describe('ldap: upgrade an ldap:// connection with StartTLS before any password is sent'),
    bind_dn: z.string().min(1).max(1024).optional().describe('ldap: the service account that searches for users'),
    bind_password: z.string().min(1).max(1024).optional().describe('ldap: its password (kept in the configuration only, never stored)'),
    search_base: z.string().min(1).max(1024).optional().describe('ldap: where to search for users'),
    search_filter: z
      .string()
      .min(1)
      .max(1024)
      .refine((f) => f.includes('{{username}}'), 'must contain {{username}}')
      .optional()
      .describe('ldap: search-then-bind; {{username}} is replaced by the escaped login name, e.g. (uid={{username}})'),
    user_dn_template: z
      .string()
      .min(1)
      .max(1024)
      .refine((t) => t.includes('{{username}}'), 'must contain {{username}}')
      .optional()
      .describe('ldap: direct bind; e.g. uid={{username}},ou=people,dc=corp,dc=test'),
    attributes: ldapAttributesSchema.optional(),
    pool_size: z.number().int().min(1).max(256).optional().describe('ldap: connections kept open to the directory (default 8)'),
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
  if (connection.secret === undefined) ctx.addIssue({ code: 'custom', path: ['secret'], message: 'required for type: http (the shared HMAC key)' });
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
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'use ldaps:// or start_tls: true (plain ldap:// only to a loopback directory)' });
    }
  }
  const searches = connection.search_filter !== undefined;
  if (searches === (connection.user_dn_template !== undefined)) {
    ctx.addIssue({ code: 'custom', path: ['search_filter'], message: 'give exactly one of search_filter (search, then bind as the user) or user_dn_template (bind directly)' });
  }
  if (searches && connection.search_base === undefined) {
    ctx.addIssue({ code: 'custom', path: ['search_base'], message: 'required with search_filter (where to search for users)' });
  }
  if ((connection.bind_dn === undefined) !== (connection.bind_password === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['bind_password'], message: 'give bind_dn and bind_password together (or neither, to search anonymously)' });
  }
}

const hooksSchema = z.strictObject({
  post_login: z.array(z.string().min(1)).max(20).default([]).describe('module paths, run in this order after the credentials (and any second factor) are verified, and at every refresh'),
  timeout_ms: z.number().int().min(10).max(30_000).default(2000).describe('the whole chain\'s time limit per sign-in; over it the sign-in fails closed (503 hook_timeout)'),
});
const DEFAULT_HOOKS = { post_login: [], timeout_ms: 2000 };
export type HooksConfig = z.output<typeof hooksSchema>;

const rateLimitSchema = z.strictObject({
  requests: z.number().int().min(1).max(10_000_000),
  per_seconds: z.number().int().min(1).max(86_400),
});
export type RateLimitConfig = z.output<typeof rateLimitSchema>;

const DEFAULT_BRUTE_FORCE = { enabled: true, threshold: 10, block_seconds: 2_592_000, same_password_window_seconds: 3600 };
const DEFAULT_BACKSTOP = { enabled: true, threshold: 100, block_seconds: 900, max_block_seconds: 86_400 };
const DEFAULT_SUSPICIOUS_IP = { enabled: true, per_day: 100, failed_checks_per_hour: 300 };

const attackProtectionSchema = z.strictObject({
  brute_force: z
    .strictObject({
      enabled: z.boolean().default(true),
      threshold: z.number().int().min(1).max(100).default(10).describe('consecutive failures per identifier and end-user IP before the lock'),
      block_seconds: seconds(1).max(31_536_000).default(2_592_000).describe('how long a lock lasts unless an operator unblocks or the password changes'),
      same_password_window_seconds: seconds(0)
        .max(86_400)
        .default(3600)
        .describe('how long a failed attempt is remembered (as a keyed hash) so the same wrong password repeated counts once; 0 counts every attempt'),
    })
    .default(DEFAULT_BRUTE_FORCE),
  backstop: z
    .strictObject({
      enabled: z.boolean().default(true),
      threshold: z.number().int().min(1).max(100_000).default(100).describe('consecutive failures per identifier from all IPs (NIST SP 800-63B)'),
      block_seconds: seconds(1)
        .max(31_536_000)
        .default(900)
        .describe('the first backstop block; each repeat doubles it, up to max_block_seconds. IPs where the login name signed in within 30 days are not blocked'),
      max_block_seconds: seconds(1).max(31_536_000).default(86_400).describe('the longest a repeated backstop block lasts'),
    })
    .default(DEFAULT_BACKSTOP),
  suspicious_ip: z
    .strictObject({
      enabled: z.boolean().default(true),
      per_day: z.number().int().min(1).max(1_000_000).default(100).describe('failed logins per end-user IP, all identifiers, refilling gradually'),
      failed_checks_per_hour: z
        .number()
        .int()
        .min(1)
        .max(1_000_000)
        .default(300)
        .describe('failed password checks per end-user IP and hour, repeats of one wrong password included, refilling gradually'),
    })
    .default(DEFAULT_SUSPICIOUS_IP),
  allowlist: z.array(cidr).default([]).describe('end-user IPs exempt from the per-IP lock and IP throttling (not from the backstop)'),
  forwarded_for_header: z
    .string()
    .regex(/^[A-Za-z0-9-]{1,64}$/, 'an HTTP header name')
    .transform((h) => h.toLowerCase())
    .default('auth0-forwarded-for')
    .describe('header carrying the end-user IP from trusted confidential clients'),
});
export type AttackProtectionConfig = z.output<typeof attackProtectionSchema>;
const DEFAULT_ATTACK_PROTECTION: AttackProtectionConfig = {
  brute_force: DEFAULT_BRUTE_FORCE,
  backstop: DEFAULT_BACKSTOP,
  suspicious_ip: DEFAULT_SUSPICIOUS_IP,
  allowlist: [],
  forwarded_for_header: 'auth0-forwarded-for',
};

const rateLimitsSchema = z.strictObject({
  tenant: rateLimitSchema.optional().describe('all token requests of the tenant'),
  client: rateLimitSchema.optional().describe("each application's token requests, unless it sets its own rate_limit"),
});
export type RateLimitsConfig = z.output<typeof rateLimitsSchema>;

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

const apiSchema = z.strictObject({
  identifier: z.string().min(1).max(512).describe('the audience'),
  scopes: z.array(scopeToken).default([]),
  token_lifetime: seconds(1).max(2_592_000).default(86_400).describe('access token lifetime, seconds'),
  allow_offline_access: z.boolean().default(false),
  signing_alg: z.enum(SIGNING_ALGS).default('RS256'),
});

const refreshTokenSchema = z.strictObject({
  reuse_interval: seconds(0).max(300).default(0).describe('seconds in which a rotated token presented again returns the same child'),
  idle_lifetime: seconds(1).default(1_296_000),
  absolute_lifetime: seconds(1).default(2_592_000),
});

const jwkSchema = z.looseObject({ kty: z.string() });

const applicationSchema = z
  .strictObject({
    client_id: z.string().min(1).max(128).regex(/^[\x21-\x7E]+$/, 'printable ASCII without spaces'),
    client_secret: z.string().min(8, 'at least 8 characters').max(512).optional(),
    name: z.string().max(256).optional(),
    token_endpoint_auth_method: z.enum(CLIENT_AUTH_METHODS).default('client_secret_post'),
    grant_types: z.array(z.enum(GRANT_TYPES)).default(['password', 'refresh_token']),
    jwks: z.strictObject({ keys: z.array(jwkSchema) }).optional(),
    default_audience: z.string().min(1).optional(),
    refresh_token: refreshTokenSchema.default({ reuse_interval: 0, idle_lifetime: 1_296_000, absolute_lifetime: 2_592_000 }),
    resource_server: z.boolean().default(false).describe('may introspect any access token whose audience is its default_audience'),
    trust_forwarded_for: z.boolean().default(false).describe("honour the end-user IP this confidential client forwards (attack_protection.forwarded_for_header)"),
    rate_limit: rateLimitSchema.optional().describe("this application's token requests; wins over the tenant's rate_limits.client"),
    mfa: z.enum(MFA_POLICIES).optional().describe("wins over the tenant's mfa policy for this application"),
    connections: z.array(z.string().min(1)).min(1).optional().describe("the connections (realms) this application may sign users in with; absent: all of the tenant's"),
  })
  .superRefine((app, ctx) => {
    const needsSecret = app.token_endpoint_auth_method === 'client_secret_post' || app.token_endpoint_auth_method === 'client_secret_basic';
    if (needsSecret && app.client_secret === undefined) {
      ctx.addIssue({ code: 'custom', path: ['client_secret'], message: `required when token_endpoint_auth_method is ${app.token_endpoint_auth_method}` });
    }
    if (!needsSecret && app.client_secret !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['client_secret'], message: `must be absent when token_endpoint_auth_method is ${app.token_endpoint_auth_method}` });
    }
    if (app.token_endpoint_auth_method === 'private_key_jwt' && (app.jwks === undefined || app.jwks.keys.length === 0)) {
      ctx.addIssue({ code: 'custom', path: ['jwks'], message: 'at least one public key is required for private_key_jwt' });
    }
    if (app.token_endpoint_auth_method === 'none' && app.grant_types.includes('client_credentials')) {
      ctx.addIssue({ code: 'custom', path: ['grant_types'], message: 'client_credentials needs a confidential client (token_endpoint_auth_method other than none)' });
    }
    if (app.resource_server && app.default_audience === undefined) {
      ctx.addIssue({ code: 'custom', path: ['default_audience'], message: 'required with resource_server: true (the API whose tokens it may introspect)' });
    }
    if (app.trust_forwarded_for && app.token_endpoint_auth_method === 'none') {
      ctx.addIssue({ code: 'custom', path: ['trust_forwarded_for'], message: 'needs a confidential client: anyone can present a public client_id, so its forwarded IP proves nothing' });
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
  client_id: z.string().min(1).max(128).describe('the application (an applications[].client_id of this tenant)'),
  audience: z.string().min(1).max(512).describe('the API (an apis[].identifier of this tenant)'),
  scope: z.array(scopeToken).describe("the API's scopes the application may get; [] gives tokens for the API with no scope"),
});

const userSchema = z
  .strictObject({
    connection: z.string().min(1),
    username: z.string().min(1).max(256),
    email: z.email().max(256).optional(),
    email_verified: z.boolean().optional(),
    name: z.string().max(256).optional(),
    given_name: z.string().max(256).optional(),
    family_name: z.string().max(256).optional(),
    // The connection's password policy is checked in the tenant's refinement, so `config check` catches what `serve` would refuse.
    password: z.string().min(1).max(MAX_PASSWORD_LENGTH).optional(),
    password_hash: z
      .string()
      .regex(/^\$(argon2id|argon2i|2a|2b|2y)\$/, 'an argon2 or bcrypt hash ($argon2id$…, $2b$…)')
      .refine(isSupportedPasswordHash, 'a complete argon2 or bcrypt hash (a bcrypt hash is $2b$NN$ and 53 more characters)')
      .optional(),
    blocked: z.boolean().optional(),
  })
  .superRefine((user, ctx) => {
    if ((user.password === undefined) === (user.password_hash === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['password'], message: 'give exactly one of password or password_hash' });
    }
  });

const tenantSchema = z
  .strictObject({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and -, used in URLs'),
    default_directory: z.string().min(1).optional(),
    default_audience: z.string().min(1).optional(),
    id_token_signing_alg: z.enum(SIGNING_ALGS).default('RS256'),
    id_token_lifetime: seconds(1).max(2_592_000).default(36_000),
    connections: z.array(connectionSchema).default([{ name: 'Username-Password-Authentication', type: 'database', password_policy: DEFAULT_PASSWORD_POLICY, timeout_ms: 2000 }]),
    hooks: hooksSchema.default(DEFAULT_HOOKS).describe('post-login hooks: ES modules exporting onExecutePostLogin(event, api), Auth0 Actions\' shape (docs/hooks.md)'),
    apis: z.array(apiSchema).default([]),
    applications: z.array(applicationSchema).default([]),
    client_grants: z
      .array(clientGrantSchema)
      .default([])
      .describe('which APIs each application may call with client_credentials, and with which scopes (none: no API)'),
    users: z.array(userSchema).default([]),
    attack_protection: attackProtectionSchema.default(DEFAULT_ATTACK_PROTECTION).describe('on by default, as Auth0\'s is (DESIGN.md §3)'),
    rate_limits: rateLimitsSchema.default({}),
    trusted_proxies: z.array(cidr).default([]).describe('X-Forwarded-For is honoured only from these peers'),
    mfa: z.enum(MFA_POLICIES).default('optional').describe('second factor inside the password flow (Auth0 shape): never | optional | always'),
  })
  .superRefine((tenant, ctx) => {
    const connectionNames = new Set(tenant.connections.map((c) => c.name));
    const apiIds = new Set(tenant.apis.map((a) => a.identifier));
    reportDuplicates(tenant.connections.map((c) => c.name), 'connections', 'name', ctx);
    reportDuplicates(tenant.apis.map((a) => a.identifier), 'apis', 'identifier', ctx);
    reportDuplicates(tenant.applications.map((a) => a.client_id), 'applications', 'client_id', ctx);
    if (tenant.default_directory !== undefined && !connectionNames.has(tenant.default_directory)) {
      ctx.addIssue({ code: 'custom', path: ['default_directory'], message: `names no connection of this tenant (have: ${[...connectionNames].join(', ')})` });
    }
    if (tenant.default_audience !== undefined && !apiIds.has(tenant.default_audience)) {
      ctx.addIssue({ code: 'custom', path: ['default_audience'], message: 'names no API identifier of this tenant' });
    }
    tenant.applications.forEach((app, i) => {
      app.connections?.forEach((name, j) => {
        if (!connectionNames.has(name)) ctx.addIssue({ code: 'custom', path: ['applications', i, 'connections', j], message: `names no connection of this tenant (have: ${[...connectionNames].join(', ')})` });
      });
      if (app.default_audience !== undefined && !apiIds.has(app.default_audience)) {
        ctx.addIssue({ code: 'custom', path: ['applications', i, 'default_audience'], message: 'names no API identifier of this tenant' });
      }
    });
    refineClientGrants(tenant, ctx);
    tenant.users.forEach((user, i) => {
      const connection = tenant.connections.find((c) => c.name === user.connection);
      if (!connection) {
        ctx.addIssue({ code: 'custom', path: ['users', i, 'connection'], message: 'names no connection of this tenant' });
        return;
      }
      if (connection.type !== 'database') {
        ctx.addIssue({ code: 'custom', path: ['users', i, 'connection'], message: `names a ${connection.type} connection: its users live in the validator, not in Latchkey` });
        return;
      }
      const refusal = user.password === undefined ? undefined : passwordPolicyRefusal(connection.password_policy, user.password);
      if (refusal) ctx.addIssue({ code: 'custom', path: ['users', i, 'password'], message: `${refusal.message} (rule ${refusal.rule} of connection ${connection.name})` });
    });
    const backstop = tenant.attack_protection.backstop;
    if (backstop.block_seconds > backstop.max_block_seconds) {
      // Refused rather than clamped: a file asking for longer blocks than the cap would otherwise be silently ignored.
      ctx.addIssue({
        code: 'custom',
        path: ['attack_protection', 'backstop', 'block_seconds'],
        message: `the first backstop block (${backstop.block_seconds} s) is longer than backstop.max_block_seconds (${backstop.max_block_seconds} s); lower block_seconds (default 900) or raise max_block_seconds (default 86400)`,
      });
    }
  });

function refineClientGrants(
  tenant: { applications: Array<{ client_id: string }>; apis: Array<{ identifier: string; scopes: string[] }>; client_grants: Array<{ client_id: string; audience: string; scope: string[] }> },
  ctx: z.RefinementCtx,
): void {
  const clientIds = new Set(tenant.applications.map((a) => a.client_id));
  const apis = new Map(tenant.apis.map((a) => [a.identifier, a]));
  const seen = new Set<string>();
  tenant.client_grants.forEach((grant, i) => {
    if (!clientIds.has(grant.client_id)) ctx.addIssue({ code: 'custom', path: ['client_grants', i, 'client_id'], message: 'names no application of this tenant' });
    const api = apis.get(grant.audience);
    if (!api) {
      ctx.addIssue({ code: 'custom', path: ['client_grants', i, 'audience'], message: 'names no API identifier of this tenant' });
    } else {
      grant.scope.forEach((scope, j) => {
        if (!api.scopes.includes(scope)) ctx.addIssue({ code: 'custom', path: ['client_grants', i, 'scope', j], message: `is not a scope of the API ${api.identifier} (it has: ${api.scopes.join(', ') || 'none'})` });
      });
    }
    const key = JSON.stringify([grant.client_id, grant.audience]);
    if (seen.has(key)) ctx.addIssue({ code: 'custom', path: ['client_grants', i], message: `duplicate client grant for ${grant.client_id} and ${grant.audience}: give one entry per application and API` });
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
      .optional(),
    listen: z
      .strictObject({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(3000),
        max_connections: z
          .number()
          .int()
          .min(1)
          .max(1_000_000)
          .default(DEFAULT_MAX_CONNECTIONS)
          .describe('open connections the public listener accepts at once; beyond it new ones are closed at once (per-IP limits belong to the reverse proxy, docs/deploy.md)'),
      })
      .default({ host: '127.0.0.1', port: 3000, max_connections: DEFAULT_MAX_CONNECTIONS }),
    operations: z
      .strictObject({
        listen: z
          .strictObject({
            host: z.string().min(1).default('127.0.0.1').describe('keep it on loopback or a private interface: never reachable by clients'),
            port: z.number().int().min(0).max(65535).default(DEFAULT_OPERATIONS_PORT).describe('0 picks a free port (tests)'),
          })
          .describe('where /metrics (and /healthz, /readyz) are served, apart from the public port'),
      })
      .optional()
      .describe('the operations listener (DESIGN.md §3): Prometheus metrics, never on the public port; none unless configured'),
    tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
    database: z.string().regex(/^(sqlite:|postgres:\/\/|postgresql:\/\/)/, 'sqlite:PATH or postgres://…').default('sqlite:./data/latchkey.db'),
    database_pool_size: z.number().int().min(1).max(1000).default(10).describe('PostgreSQL: connections per node'),
    redis: z.string().regex(/^rediss?:\/\//, 'redis://… or rediss://…').optional(),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    password_hashing: z
      .strictObject({
        concurrency: z.number().int().min(1).max(64).optional().describe('verifications in flight; default: the number of cores'),
        max_queue: z.number().int().min(0).max(100_000).default(256).describe('requests waiting for a hash slot before 503'),
        max_queue_per_ip: z
          .number()
          .int()
          .min(1)
          .max(100_000)
          .optional()
          .describe('places (running and waiting) one end-user IP may hold before its further checks get 429; default: a quarter of concurrency + max_queue'),
      })
      .default({ max_queue: 256 }),
    email: z
      .strictObject({
        from: z.string().min(3).default('Latchkey <no-reply@localhost>'),
        smtp_url: z.string().regex(/^smtps?:\/\//, 'smtp://… or smtps://…').optional().describe('send through this SMTP server (nodemailer)'),
        outbox_dir: z.string().min(1).optional().describe('development: write each message as a JSON file here instead (default: {data dir}/outbox when no smtp_url)'),
      })
      .default({ from: 'Latchkey <no-reply@localhost>' }),
    security_events: z
      .strictObject({ retention_days: z.number().int().min(1).max(3650).default(30).describe('security events older than this are deleted') })
      .default({ retention_days: 30 }),
    tenants: z.array(tenantSchema).min(1),
  })
  .superRefine((config, ctx) => {
    reportDuplicates(config.tenants.map((t) => t.name), 'tenants', 'name', ctx);
    if (config.listen.port === 0 && config.public_url === undefined) {
      ctx.addIssue({ code: 'custom', path: ['public_url'], message: 'required with listen.port 0: every issuer must name the port clients reach' });
    }
    const operations = config.operations?.listen;
    if (operations && operations.port !== 0 && operations.port === config.listen.port && hostsOverlap(operations.host, config.listen.host)) {
      ctx.addIssue({ code: 'custom', path: ['operations', 'listen', 'port'], message: `must differ from listen.port (${config.listen.port}): metrics are never served on the public port` });
    }
  });

/** Two listen hosts that would claim the same port: equal, or either a wildcard address. */
function hostsOverlap(a: string, b: string): boolean {
  const wildcard = (host: string) => host === '0.0.0.0' || host === '::' || host === '[::]';
  return a === b || wildcard(a) || wildcard(b);
}

export type LatchkeyConfigInput = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
export type TenantConfig = ParsedConfig['tenants'][number];
export type ApiConfig = TenantConfig['apis'][number];
export type ApplicationConfig = TenantConfig['applications'][number];
export type ConnectionConfig = TenantConfig['connections'][number];
export type UserSeedConfig = TenantConfig['users'][number];
export type ClientGrantConfig = TenantConfig['client_grants'][number];
