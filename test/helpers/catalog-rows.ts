/** Catalog rows as the file's schema outputs them, for suites that write the catalog through its store. */
import type { ApplicationSettings } from '../../src/storage/stores.js';

/** A confidential machine-to-machine application with every default of config/schema.ts filled in. */
export const MACHINE_APP_SETTINGS = {
  callbacks: [],
  allowed_logout_urls: [],
  token_endpoint_auth_method: 'client_secret_post',
  grant_types: ['client_credentials'],
  refresh_token: { reuse_interval: 0, idle_lifetime: 1_296_000, absolute_lifetime: 2_592_000 },
  resource_server: false,
  trust_forwarded_for: false,
} as ApplicationSettings;
