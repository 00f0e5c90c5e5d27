/**
 * A server for the Management API suites (DESIGN.md §9), over HTTPS as
 * Auth0's SDK insists: the acme fixture plus `acme-mgmt`, an application
 * holding a client grant for `{issuer}api/v2/`, and small JSON helpers that
 * send a bearer token the way the SDK does.
 */
import { MANAGEMENT_API_SCOPES } from '../../src/domain/management-api.js';
import { acmeFixture } from '../helpers/fixtures.js';
import { toJson, type JsonResponse } from '../helpers/http.js';
import type { StartOptions, TenantInput } from '../helpers/server.js';
import { startHttpsTestServer, type HttpsTestServer } from '../helpers/tls.js';
import { OpenApiConformance } from './openapi-conformance.js';

export const MGMT_CLIENT = { client_id: 'acme-mgmt', client_secret: 'acme-mgmt-secret-0123456789' };

/** The Management API client of `globex`, the second tenant the isolation tests run beside acme. */
export const GLOBEX_MGMT = { client_id: 'globex-mgmt', client_secret: 'globex-mgmt-secret-012345678' };

/** `globex`: one database connection `db`, and GLOBEX_MGMT holding a client grant for its own Management API. */
export function globexTenant(url: string, scope: readonly string[], users: TenantInput['users'] = []): TenantInput {
  return {
    name: 'globex',
    connections: [{ name: 'db', type: 'database' }],
    applications: [{ ...GLOBEX_MGMT, token_endpoint_auth_method: 'client_secret_post', grant_types: ['client_credentials'] }],
    client_grants: [{ client_id: GLOBEX_MGMT.client_id, audience: `${url}/globex/api/v2/`, scope: [...scope] }],
    users,
  };
}

export interface ManagementServerOptions {
  /** The scopes of acme-mgmt's client grant; default every scope. */
  scopes?: readonly string[];
  /** Changes to the acme tenant (applications and client grants are added to, not replaced). */
  tenant?: Partial<TenantInput>;
  /** More tenants beside acme, given the server's URL (for their own Management API client grants). */
  otherTenants?: (url: string) => TenantInput[];
  extra?: StartOptions['extra'];
  /** Reuse a data directory: a restart over the same database (StartOptions.dir). */
  dir?: string;
}

export async function startManagementServer(options: ManagementServerOptions = {}): Promise<HttpsTestServer> {
  const { applications = [], client_grants = [], ...overrides } = options.tenant ?? {};
  const { tenant } = await acmeFixture(overrides);
  return startHttpsTestServer((url) => ({
    tenants: [
      {
        ...tenant,
        applications: [
          ...(tenant.applications ?? []),
          ...applications,
          {
            client_id: MGMT_CLIENT.client_id,
            client_secret: MGMT_CLIENT.client_secret,
            token_endpoint_auth_method: 'client_secret_post',
            grant_types: ['client_credentials'],
          },
        ],
        client_grants: [
          ...(tenant.client_grants ?? []),
          ...client_grants,
          { client_id: MGMT_CLIENT.client_id, audience: `${url}/acme/api/v2/`, scope: [...(options.scopes ?? MANAGEMENT_API_SCOPES)] },
        ],
      },
      ...(options.otherTenants?.(url) ?? []),
    ],
    ...(options.extra === undefined ? {} : { extra: options.extra }),
    ...(options.dir === undefined ? {} : { dir: options.dir }),
  }));
}

/** client_credentials for the Management API, as a deploy script gets its token. */
export async function managementToken(
  server: HttpsTestServer,
  client: { client_id: string; client_secret: string } = MGMT_CLIENT,
  tenant = 'acme',
  scope?: string,
): Promise<string> {
  const response = await server.postForm(server.at('/oauth/token', tenant), {
    grant_type: 'client_credentials',
    ...client,
    audience: `${server.issuer(tenant)}api/v2/`,
    ...(scope === undefined ? {} : { scope }),
  });
  if (response.status !== 200) throw new Error(`no Management API token: ${response.status} ${response.text}`);
  return response.body.access_token as string;
}

export interface ManagementClientForTests {
  get(path: string): Promise<JsonResponse>;
  post(path: string, body?: unknown): Promise<JsonResponse>;
  patch(path: string, body?: unknown): Promise<JsonResponse>;
  put(path: string, body?: unknown): Promise<JsonResponse>;
  del(path: string): Promise<JsonResponse>;
}

/** One conformance checker per tenant base, made from the document the server serves. */
const conformance = new Map<string, Promise<OpenApiConformance>>();

function conformanceOf(server: HttpsTestServer, tenant: string): Promise<OpenApiConformance> {
  const base = `${server.issuer(tenant)}api/v2`;
  let checker = conformance.get(base);
  if (!checker) {
    checker = server.get(`${base}/openapi.json`).then((response) => {
      if (response.status !== 200) throw new Error(`no OpenAPI document at ${base}: ${response.status}`);
      return new OpenApiConformance(response.body as unknown as ConstructorParameters<typeof OpenApiConformance>[0]);
    });
    conformance.set(base, checker);
  }
  return checker;
}

/**
 * The server's trusting fetch for Auth0's SDK, with every Management API
 * answer checked against the OpenAPI document as mgmt() checks its own.
 */
export function conformingFetch(server: HttpsTestServer, tenant = 'acme'): typeof fetch {
  const checked = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const response = await server.fetch(input, init);
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (!url.startsWith(`${server.issuer(tenant)}api/v2/`)) return response;
    const text = await response.clone().text();
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    (await conformanceOf(server, tenant)).check(method, url, response.status, text === '' ? undefined : JSON.parse(text));
    return response;
  };
  return checked as typeof fetch;
}

/**
 * Requests to `{issuer}api/v2{path}` with the token as Bearer; `path` starts
 * with a slash and is sent as written. Every answer is checked against the
 * server's OpenAPI document (issue #15 point 5): an undocumented status or a
 * body off its schema fails the test that got it.
 */
export function mgmt(server: HttpsTestServer, token: string | undefined, tenant = 'acme'): ManagementClientForTests {
  const send = async (method: string, path: string, body?: unknown) => {
    const url = `${server.issuer(tenant)}api/v2${path}`;
    const response = await toJson(
      await server.fetch(url, {
        method,
        headers: {
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }),
    );
    (await conformanceOf(server, tenant)).check(method, url, response.status, response.text === '' ? undefined : JSON.parse(response.text));
    return response;
  };
  return {
    get: (path) => send('GET', path),
    post: (path, body) => send('POST', path, body ?? {}),
    patch: (path, body) => send('PATCH', path, body ?? {}),
    put: (path, body) => send('PUT', path, body ?? {}),
    del: (path) => send('DELETE', path),
  };
}

/** Auth0's error body: all four members, always. */
export function assertManagementError(response: JsonResponse, statusCode: number, errorCode: string): void {
  const { body } = response;
  if (response.status !== statusCode || body.statusCode !== statusCode || body.errorCode !== errorCode) {
    throw new Error(`expected ${statusCode} ${errorCode}, got ${response.status} ${response.text}`);
  }
  for (const key of ['error', 'message'])
    if (typeof body[key] !== 'string' || body[key] === '') throw new Error(`no ${key}: ${response.text}`);
}
