/**
 * Auth0's MFA API for the password flow (DESIGN.md §2, §3):
 * POST /T/mfa/associate (Bearer mfa_token, client authentication in the
 * body), POST /T/mfa/challenge (client authentication + mfa_token),
 * GET /T/mfa/authenticators (Bearer mfa_token, or an MFA-API access token),
 * DELETE /T/mfa/authenticators/:id (an MFA-API access token from a recent
 * second factor). The rules: oauth/mfa-api-endpoint.ts.
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { Catalog } from '../../domain/tenant.js';
import { maskEmail, type MfaOverview } from '../../mfa/mfa-service.js';
import type { MfaApiEndpoint } from '../../oauth/mfa-api-endpoint.js';
import type { MfaAuthenticatorType } from '../../storage/stores.js';
import { bearerToken, withBearerChallenge } from '../bearer.js';
import { bodyParameters } from '../body.js';
import { requestOrigin } from '../request-origin.js';
import { tenantOf } from '../tenant.js';

export interface MfaRoutesDeps {
  catalog: Catalog;
  mfaApi: MfaApiEndpoint;
}

export const mfaRoutes: FastifyPluginAsync<MfaRoutesDeps> = async (app, { catalog, mfaApi }) => {
  const noStore = (reply: FastifyReply) => reply.header('cache-control', 'no-store').header('pragma', 'no-cache');

  app.post('/:tenant/mfa/associate', async (request, reply) => {
    noStore(reply);
    const tenant = tenantOf(request, catalog);
    const params = bodyParameters(request, { allowJson: true, listKeys: ['authenticator_types', 'oob_channels'] });
    return mfaApi.associate({ tenant, mfaToken: bearerToken(request, undefined), params });
  });

  app.post('/:tenant/mfa/challenge', async (request, reply) => {
    noStore(reply);
    const tenant = tenantOf(request, catalog);
    const params = bodyParameters(request, { allowJson: true });
    return mfaApi.challenge({ tenant, authorization: request.headers.authorization, params });
  });

  app.get('/:tenant/mfa/authenticators', async (request, reply) => {
    noStore(reply);
    try {
      const tenant = tenantOf(request, catalog);
      return describeFactors(await mfaApi.listAuthenticators({ tenant, bearer: bearerToken(request, undefined) }));
    } catch (err) {
      throw withBearerChallenge(err);
    }
  });

  app.delete('/:tenant/mfa/authenticators/:id', async (request, reply) => {
    noStore(reply);
    try {
      const tenant = tenantOf(request, catalog);
      const bearer = bearerToken(request, undefined);
      const authenticatorId = (request.params as { id: string }).id;
      await mfaApi.removeAuthenticator({ tenant, bearer, authenticatorId, origin: requestOrigin(request.raw, tenant) });
      return reply.code(204).send();
    } catch (err) {
      throw withBearerChallenge(err);
    }
  });
};

/** Auth0's list shape: confirmed factors are active, the enrolment in progress is not; an email address is shown masked. */
function describeFactors({ factors, pending, hasRecoveryCode }: MfaOverview): Array<Record<string, string | boolean>> {
  const listed = factors.map((f) => describe(f.id, f.type, f.email, true));
  if (pending) listed.push(describe(pending.authenticatorId, pending.type, pending.email, false));
  if (hasRecoveryCode) listed.push({ id: 'recovery-code', authenticator_type: 'recovery-code', active: true });
  return listed;
}

function describe(id: string, type: MfaAuthenticatorType, email: string | null, active: boolean): Record<string, string | boolean> {
  if (type === 'otp') return { id, authenticator_type: 'otp', active };
  return { id, authenticator_type: 'oob', oob_channel: 'email', name: maskEmail(email ?? ''), active };
}
