/**
 * The `api` a post-login hook receives (Auth0 Actions' shape) and what its
 * calls amount to. The api only records commands, after checking each call,
 * so a hook runs in a worker thread and its effect crosses back as plain
 * data; the server applies the commands to the grant (`applyHookCommands`).
 * Pure: shared by the worker and the unit tests.
 */

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what a deny reason must not carry into a response
const UNSAFE_IN_REASON = /[\u0000-\u001f\u007f"\\]/g;

export type HookCommand =
  | { op: 'access_token_claim'; name: string; value: unknown }
  | { op: 'id_token_claim'; name: string; value: unknown }
  | { op: 'add_scope'; scope: string }
  | { op: 'remove_scope'; scope: string }
  | { op: 'deny'; reason: string }
  | { op: 'multifactor' };

/** What the hook is told; plain data, as it crosses into the worker. */
export interface PostLoginEvent {
  grant_type: string;
  tenant: { id: string };
  user: {
    user_id: string;
    username: string;
    email: string | null;
    email_verified: boolean;
    name: string | null;
    given_name: string | null;
    family_name: string | null;
    groups: string[] | null;
    created_at: string;
    updated_at: string;
  };
  client: { client_id: string; name: string };
  connection: { id: string; name: string; strategy: string };
  request: { ip: string; scope: string | undefined; audience: string | undefined; realm: string };
  resource_server: { identifier: string } | undefined;
  transaction: { requested_scopes: string[]; granted_scopes: string[] };
  authentication: { methods: Array<{ name: string }> };
}

/**
 * Claims the server sets or that mean something to relying parties
 * (RFC 7519 §4.1, RFC 9068 §2.2, OIDC Core §2 and §5.1, RFC 8693): a hook
 * adds its own next to them and can never replace them.
 */
const RESERVED_CLAIMS = new Set([
  'iss',
  'sub',
  'aud',
  'exp',
  'nbf',
  'iat',
  'jti',
  'auth_time',
  'amr',
  'acr',
  'azp',
  'nonce',
  'at_hash',
  'c_hash',
  'sid',
  'scope',
  'scp',
  'client_id',
  'cnf',
  'act',
  'may_act',
  'gty',
  'permissions',
  'typ',
  'name',
  'given_name',
  'family_name',
  'middle_name',
  'nickname',
  'preferred_username',
  'profile',
  'picture',
  'website',
  'email',
  'email_verified',
  'gender',
  'birthdate',
  'zoneinfo',
  'locale',
  'phone_number',
  'phone_number_verified',
  'address',
  'updated_at',
  'groups',
]);

const MAX_CLAIM_BYTES = 8 * 1024;
const MAX_REASON = 256;
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,200}$/;

/**
 * Custom claims must be namespaced (Auth0's rule for its own tokens): an
 * http(s) URL or at least something with a colon, so they cannot collide with
 * claims a later standard defines.
 */
export function claimNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length === 0 || name.length > 256) return 'a claim name is a string of 1 to 256 characters';
  if (RESERVED_CLAIMS.has(name))
    return `"${name}" is a claim the server sets; choose a namespaced name such as https://example.com/${name}`;
  if (!/^https?:\/\/[^\s/]+\/\S*$/.test(name) && !/^[a-z][a-z0-9+.-]*:\S+$/i.test(name)) {
    return `custom claim "${name}" must be namespaced, e.g. https://example.com/${name.replace(/[^\w-]/g, '') || 'claim'}`;
  }
  return undefined;
}

function claimValueProblem(value: unknown): string | undefined {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch {
    return 'a claim value must be JSON (no cycles, no BigInt)';
  }
  if (json === undefined) return 'a claim value must be JSON (not undefined or a function)';
  if (Buffer.byteLength(json) > MAX_CLAIM_BYTES) return `a claim value may take at most ${MAX_CLAIM_BYTES} bytes as JSON`;
  return undefined;
}

/** The api object handed to `onExecutePostLogin(event, api)`; every call is checked now, so a mistake throws inside the hook. */
export function recordingApi(commands: HookCommand[]) {
  const claim = (op: 'access_token_claim' | 'id_token_claim') => (name: unknown, value: unknown) => {
    const problem = claimNameProblem(name) ?? claimValueProblem(value);
    if (problem) throw new TypeError(`setCustomClaim: ${problem}`);
    // A JSON round trip: the value crosses threads and is signed as JSON anyway.
    commands.push({ op, name: name as string, value: JSON.parse(JSON.stringify(value)) as unknown });
  };
  const scope = (op: 'add_scope' | 'remove_scope') => (value: unknown) => {
    if (typeof value !== 'string' || !SCOPE_TOKEN.test(value))
      throw new TypeError(`${op === 'add_scope' ? 'addScope' : 'removeScope'}: one scope token (RFC 6749 §3.3), e.g. "read:reports"`);
    commands.push({ op, scope: value });
  };
  return {
    accessToken: { setCustomClaim: claim('access_token_claim'), addScope: scope('add_scope'), removeScope: scope('remove_scope') },
    idToken: { setCustomClaim: claim('id_token_claim') },
    access: {
      deny(reason: unknown) {
        const text = typeof reason === 'string' ? reason.replace(UNSAFE_IN_REASON, ' ').trim().slice(0, MAX_REASON) : '';
        commands.push({ op: 'deny', reason: text || 'Access denied.' });
      },
    },
    multifactor: {
      enable(provider: unknown = 'any') {
        if (provider === 'none')
          throw new TypeError('multifactor.enable("none") is not supported: hooks run after the tenant\'s MFA policy has been applied');
        commands.push({ op: 'multifactor' });
      },
    },
  };
}

export interface HookEffect {
  denied: string | undefined;
  multifactor: boolean;
  accessTokenClaims: Record<string, unknown>;
  idTokenClaims: Record<string, unknown>;
  accessTokenScopes: string[];
}

/** Folds the commands, in order, over the scopes the grant decided. */
export function applyHookCommands(commands: readonly HookCommand[], grantedScopes: readonly string[]): HookEffect {
  const effect: HookEffect = {
    denied: undefined,
    multifactor: false,
    accessTokenClaims: {},
    idTokenClaims: {},
    accessTokenScopes: [...grantedScopes],
  };
  for (const command of commands) {
    switch (command.op) {
      case 'access_token_claim':
        effect.accessTokenClaims[command.name] = command.value;
        break;
      case 'id_token_claim':
        effect.idTokenClaims[command.name] = command.value;
        break;
      case 'add_scope':
        if (!effect.accessTokenScopes.includes(command.scope)) effect.accessTokenScopes.push(command.scope);
        break;
      case 'remove_scope':
        effect.accessTokenScopes = effect.accessTokenScopes.filter((s) => s !== command.scope);
        break;
      case 'deny':
        effect.denied ??= command.reason;
        break;
      case 'multifactor':
        effect.multifactor = true;
        break;
    }
  }
  return effect;
}
