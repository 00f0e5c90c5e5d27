/**
 * Auth0's database-connection endpoints (DESIGN.md §8), for applications
 * with their own sign-up and forgot-password forms:
 * `POST /T/dbconnections/signup` and `POST /T/dbconnections/change_password`,
 * JSON or form. The rules are oauth/accounts/accounts.ts; errors of these
 * two endpoints answer in Auth0's `{name, code, description, statusCode}`.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { InvalidRequestError } from '../../domain/errors.js';
import type { Catalog } from '../../domain/tenant.js';
import { AccountRequestError } from '../../oauth/accounts/account-errors.js';
import type { Accounts } from '../../oauth/accounts/accounts.js';
import { RequestParameters } from '../../oauth/request-parameters.js';
import type { RawBody } from '../body.js';
import { requestOrigin } from '../request-origin.js';
import { tenantOf } from '../tenant.js';

export interface DbConnectionsRoutesDeps {
  catalog: Catalog;
  accounts: Accounts;
}

/** Auth0 keeps user_metadata as an object of strings; Latchkey has no column for it yet and checks its shape only. */
const MAX_METADATA_KEYS = 10;

export const dbConnectionsRoutes: FastifyPluginAsync<DbConnectionsRoutesDeps> = async (app, { catalog, accounts }) => {
  const noStore = (reply: FastifyReply) => reply.header('cache-control', 'no-store').header('pragma', 'no-cache');

  app.post('/:tenant/dbconnections/signup', async (request, reply) => {
    noStore(reply);
    const tenant = tenantOf(request, catalog);
    return answer(reply, async () => {
      const params = signUpParameters(request);
      return accounts.signUp(tenant, {
        clientId: params.get('client_id'),
        connection: params.get('connection'),
        email: params.get('email'),
        password: params.get('password'),
        username: params.get('username'),
        name: params.get('name'),
        givenName: params.get('given_name'),
        familyName: params.get('family_name'),
        ip: requestOrigin(request.raw, tenant).networkIp(),
      });
    });
  });

  app.post('/:tenant/dbconnections/change_password', async (request, reply) => {
    noStore(reply);
    const tenant = tenantOf(request, catalog);
    return answer(reply, async () => {
      const params = parametersOf(request);
      const sentence = await accounts.requestPasswordReset(tenant, {
        clientId: params.get('client_id'),
        connection: params.get('connection'),
        email: params.get('email'),
        ip: requestOrigin(request.raw, tenant).networkIp(),
      });
      // Auth0 answers the sentence as a JSON string; byte-identical for every address.
      return reply.header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(sentence));
    });
  });
};

async function answer<T>(reply: FastifyReply, run: () => Promise<T>): Promise<T | FastifyReply> {
  try {
    return await run();
  } catch (err) {
    if (!(err instanceof AccountRequestError)) throw err;
    reply.log.info({ status: err.statusCode, error: err.code }, 'dbconnections request refused');
    return reply.code(err.statusCode).headers(err.headers).send(err.body());
  }
}

function parametersOf(request: FastifyRequest, json?: { value: Record<string, unknown>; text: string }): RequestParameters {
  const raw = request.body as RawBody | undefined | null;
  if (raw === undefined || raw === null) return RequestParameters.empty();
  if (raw.kind === 'form') return RequestParameters.fromForm(raw.text);
  return json ? RequestParameters.fromJson(json.value, json.text) : RequestParameters.fromJson(raw.value, raw.text);
}

/** The sign-up body: Auth0's user_metadata is an object, the rest flat strings. */
function signUpParameters(request: FastifyRequest): RequestParameters {
  const raw = request.body as RawBody | undefined | null;
  if (raw?.kind !== 'json' || typeof raw.value !== 'object' || raw.value === null || Array.isArray(raw.value)) return parametersOf(request);
  const { user_metadata: metadata, ...rest } = raw.value as Record<string, unknown>;
  if (metadata !== undefined) {
    const valid =
      typeof metadata === 'object' &&
      metadata !== null &&
      !Array.isArray(metadata) &&
      Object.keys(metadata).length <= MAX_METADATA_KEYS &&
      Object.values(metadata).every((v) => typeof v === 'string' && v.length <= 500);
    if (!valid) throw new InvalidRequestError(`user_metadata must be an object of at most ${MAX_METADATA_KEYS} string values.`);
  }
  return parametersOf(request, { value: rest, text: raw.text });
}
