/**
 * Every Management API endpoint, group by group (Auth0's tags), each group
 * built with only the services it uses. The composition root hands the
 * services in (runtime.ts `management`); http/management/index.ts turns the
 * list into routes and the OpenAPI document.
 */
import type { ImportJobs } from '../../oauth/management/import-jobs.js';
import type { ManagementClientGrants } from '../../oauth/management/client-grants.js';
import type { ManagementClients } from '../../oauth/management/clients.js';
import type { ManagementCallers } from '../../oauth/management/management-caller.js';
import type { ManagementResourceServers } from '../../oauth/management/resource-servers.js';
import type { SigningKeyManagement } from '../../oauth/management/signing-keys.js';
import type { UserTickets } from '../../oauth/management/tickets.js';
import type { SecurityEvents } from '../../observability/security-events.js';
import { clientGrantEndpoints } from './client-grants.js';
import { clientEndpoints } from './clients.js';
import { connectionEndpoints } from './connections.js';
import type { ManagementEndpoint } from './endpoint.js';
import { userEndpoints, type UserEndpointsDeps } from './users.js';
import { jobEndpoints } from './jobs.js';
import { resourceServerEndpoints } from './resource-servers.js';
import { keyEndpoints } from './keys.js';
import { ticketEndpoints } from './tickets.js';

/** What the Management API's routes are built from: the caller check, the audit trail, and each group's services. */
export interface ManagementServices {
  callers: Pick<ManagementCallers, 'authenticate' | 'spend'>;
  securityEvents: Pick<SecurityEvents, 'record'>;
  /** Users, their blocks, factors, refresh tokens and logs (users.ts). */
  users: UserEndpointsDeps;
  /** User-import jobs (issue #15 point 4). */
  importJobs: Pick<ImportJobs, 'start' | 'find'>;
  clients: ManagementClients;
  clientGrants: ManagementClientGrants;
  resourceServers: ManagementResourceServers;
  signingKeys: SigningKeyManagement;
  tickets: UserTickets;
}

export function managementEndpoints(services: ManagementServices): ManagementEndpoint[] {
  return [
    ...connectionEndpoints(),
    ...userEndpoints(services.users),
    ...jobEndpoints(services),
    ...clientEndpoints(services.clients),
    ...clientGrantEndpoints(services.clientGrants),
    ...resourceServerEndpoints(services.resourceServers),
    ...keyEndpoints(services.signingKeys),
    ...ticketEndpoints(services.tickets),
  ];
}
