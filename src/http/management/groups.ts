/**
 * Every Management API endpoint, group by group (Auth0's tags), each group
 * built with only the services it uses. The composition root hands the
 * services in (runtime.ts `management`); http/management/index.ts turns the
 * list into routes and the OpenAPI document.
 */
import type { ManagementCallers } from '../../oauth/management/management-caller.js';
import type { SigningKeyManagement } from '../../oauth/management/signing-keys.js';
import type { UserTickets } from '../../oauth/management/tickets.js';
import type { SecurityEvents } from '../../observability/security-events.js';
import { connectionEndpoints } from './connections.js';
import type { ManagementEndpoint } from './endpoint.js';
import { keyEndpoints } from './keys.js';
import { ticketEndpoints } from './tickets.js';

/** What the Management API's routes are built from: the caller check, the audit trail, and each group's services. */
export interface ManagementServices {
  callers: Pick<ManagementCallers, 'authenticate' | 'spend'>;
  securityEvents: Pick<SecurityEvents, 'record'>;
  signingKeys: SigningKeyManagement;
  tickets: UserTickets;
}

export function managementEndpoints(services: ManagementServices): ManagementEndpoint[] {
  return [...connectionEndpoints(), ...keyEndpoints(services.signingKeys), ...ticketEndpoints(services.tickets)];
}
