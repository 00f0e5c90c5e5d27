/**
 * The client a request authenticated as (RFC 6749 §2.3), shared by every
 * layer that acts for it: grants, the token service, hooks, protection.
 */
import type { ClientAuthMethod } from '../config/schema.js';
import type { ApplicationRecord } from '../storage/stores.js';

export interface AuthenticatedClient {
  app: ApplicationRecord;
  /** How it authenticated: exactly the method the application is registered with. */
  method: ClientAuthMethod;
}
