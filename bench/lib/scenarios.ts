import { UsageError } from './args.js';
import type { Outcome, ScenarioSpec, TokenClient, TokenResponse, VirtualUser } from './load.js';
import { managementScenarios, type ManagementBenchTarget } from './management.js';
import type { RefreshLedger } from './refresh-ledger.js';

/** The client and user the bench config seeds (see environment.ts). */
export interface BenchCredentials {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly username: string;
  readonly password: string;
  readonly rs256Audience: string;
  readonly es256Audience: string;
  readonly unprotectedTenant: string;
  readonly hooksTenant: string;
  /** The Management API scenarios' tenant and database (management.ts). */
  readonly management: ManagementBenchTarget;
}

/** Every scenario, in the order they run. Names double as `--scenario` values. */
export function allScenarios(creds: BenchCredentials): ScenarioSpec[] {
  return [
    passwordScenario(creds, 2),
    passwordScenario(creds, 16),
    unprotectedPasswordScenario(creds, 16),
    refreshScenario(creds, 'rs256', creds.rs256Audience, 16),
    refreshScenario(creds, 'es256', creds.es256Audience, 16),
    hookedRefreshScenario(creds, 16),
    clientCredentialsScenario(creds, 'rs256', creds.rs256Audience, 16),
    clientCredentialsScenario(creds, 'es256', creds.es256Audience, 16),
    ...managementScenarios(creds.management),
  ];
}

/**
 * Keeps the scenarios a selector names exactly or as a group prefix
 * (`password` selects `password-2` and `password-16`). No selectors: all.
 */
export function selectScenarios(all: readonly ScenarioSpec[], selectors: readonly string[]): ScenarioSpec[] {
  if (selectors.length === 0) return [...all];
  const matches = (spec: ScenarioSpec, selector: string): boolean => spec.name === selector || spec.name.startsWith(`${selector}-`);
  for (const selector of selectors) {
    if (!all.some((spec) => matches(spec, selector))) {
      throw new UsageError(`--scenario ${selector}: unknown; choose from ${all.map((s) => s.name).join(', ')}`);
    }
  }
  return all.filter((spec) => selectors.some((selector) => matches(spec, selector)));
}

/** RFC 6749 §4.3: every request pays one argon2id verification on the server. */
function passwordScenario(creds: BenchCredentials, connections: number): ScenarioSpec {
  const form = passwordForm(creds, creds.rs256Audience, 'read:data');
  return {
    name: `password-${connections}`,
    description: 'password grant, RS256 API',
    connections,
    createUser: (client) => statelessUser(client, form),
  };
}

/** The same request to a tenant with attack protection off: what the protection costs is the gap to password-16. */
function unprotectedPasswordScenario(creds: BenchCredentials, connections: number): ScenarioSpec {
  return {
    ...passwordScenario(creds, connections),
    name: `unprotected-password-${connections}`,
    description: 'password grant, attack protection off',
    tokenPath: `/${creds.unprotectedTenant}/oauth/token`,
  };
}

/** RFC 6749 §4.4: client authentication and signing only, no user. */
function clientCredentialsScenario(creds: BenchCredentials, alg: string, audience: string, connections: number): ScenarioSpec {
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: creds.clientId,
    client_secret: creds.clientSecret,
    audience,
  });
  return {
    name: `client-credentials-${alg}`,
    description: `client_credentials grant, ${alg.toUpperCase()} API`,
    connections,
    createUser: (client) => statelessUser(client, form),
  };
}

/**
 * RFC 6749 §6 with rotation (DESIGN.md §4): one chain per virtual user, each
 * request presenting the newest token, so no request ever trips reuse
 * detection and the measured path is lookup + rotate + sign. With several
 * nodes, consecutive links of a chain are rotated by different nodes.
 */
function refreshScenario(creds: BenchCredentials, alg: string, audience: string, connections: number): ScenarioSpec {
  return {
    name: `refresh-${alg}`,
    description: `refresh_token grant (rotating), ${alg.toUpperCase()} API`,
    connections,
    rotatesRefreshTokens: true,
    createUser: async (client, ledger) => {
      const user = new RefreshChainUser(creds, audience, ledger);
      await user.recover(client);
      return user;
    },
  };
}

/** refresh-rs256 on a tenant with one post-login hook: a worker-thread round trip per request. */
function hookedRefreshScenario(creds: BenchCredentials, connections: number): ScenarioSpec {
  return {
    ...refreshScenario(creds, 'rs256', creds.rs256Audience, connections),
    name: 'hooks-refresh-rs256',
    description: 'refresh_token grant with one post-login hook, RS256 API',
    tokenPath: `/${creds.hooksTenant}/oauth/token`,
  };
}

/** Sends the same form every time; set-up is one unmeasured request that must succeed. */
async function statelessUser(client: TokenClient, form: URLSearchParams): Promise<VirtualUser> {
  const warmUp = await client.post(form);
  if (warmUp.status !== 200) throw new Error(failure(warmUp));
  return {
    nextRequest: () => form,
    accept: expect200,
  };
}

class RefreshChainUser implements VirtualUser {
  private readonly creds: BenchCredentials;
  private readonly audience: string;
  private readonly ledger: RefreshLedger;
  private refreshToken = '';
  /** The token in flight had been presented before: a 200 for it is a double spend. */
  private presentedAgain = false;

  constructor(creds: BenchCredentials, audience: string, ledger: RefreshLedger) {
    this.creds = creds;
    this.audience = audience;
    this.ledger = ledger;
  }

  nextRequest(): URLSearchParams {
    this.presentedAgain = this.ledger.present(this.refreshToken);
    return new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: this.refreshToken,
      client_id: this.creds.clientId,
      client_secret: this.creds.clientSecret,
    });
  }

  accept(response: TokenResponse): Outcome {
    if (response.status !== 200) return { ok: false, detail: failure(response) };
    if (this.presentedAgain) {
      this.ledger.acceptedAgain();
      return { ok: false, detail: 'double-spent refresh token: 200 for a token already presented' };
    }
    const next = refreshTokenOf(response.body);
    if (next === undefined) return { ok: false, detail: `200 without a refresh_token: ${response.body.slice(0, 500)}` };
    if (!this.ledger.receive(next)) return { ok: false, detail: 'double-spent refresh token: a token value handed out twice' };
    this.refreshToken = next;
    return { ok: true };
  }

  /** Starts a new chain with a password grant; also the set-up. */
  async recover(client: TokenClient): Promise<void> {
    const response = await client.post(passwordForm(this.creds, this.audience, 'read:data offline_access'));
    const token = response.status === 200 ? refreshTokenOf(response.body) : undefined;
    if (token === undefined) throw new Error(`password grant for a refresh chain: ${failure(response)}`);
    if (!this.ledger.receive(token))
      throw new Error('double-spent refresh token: the password grant handed out a token value already handed out');
    this.refreshToken = token;
  }
}

function passwordForm(creds: BenchCredentials, audience: string, scope: string): URLSearchParams {
  return new URLSearchParams({
    grant_type: 'password',
    username: creds.username,
    password: creds.password,
    client_id: creds.clientId,
    client_secret: creds.clientSecret,
    audience,
    scope,
  });
}

/** The hot path skips JSON parsing: the status is the contract, and parsing would steal CPU from the server. */
function expect200(response: TokenResponse): Outcome {
  return response.status === 200 ? { ok: true } : { ok: false, detail: failure(response) };
}

function refreshTokenOf(body: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || !('refresh_token' in parsed)) return undefined;
  const token = parsed.refresh_token;
  return typeof token === 'string' && token !== '' ? token : undefined;
}

function failure(response: TokenResponse): string {
  return `HTTP ${response.status}: ${response.body.slice(0, 500)}`;
}
