/**
 * The hosted pages (DESIGN.md §7) as one Fastify context: the page kit
 * (headers, CSRF, cookies, HTML errors) applies to these routes only, never
 * to the JSON endpoints beside them.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Catalog } from '../../domain/tenant.js';
import { logoutRoutes, type LogoutRoutesDeps } from './logout.js';
import { registerPageKit } from './page-kit.js';
import { signInRoutes, type SignInRoutesDeps } from './sign-in.js';
import { activatePages, type ActivatePagesDeps } from './activate.js';
import { accountPages, type AccountPagesDeps } from './accounts.js';

export type PageRoutesDeps = SignInRoutesDeps & LogoutRoutesDeps & ActivatePagesDeps & AccountPagesDeps & { catalog: Catalog };

export const pageRoutes: FastifyPluginAsync<PageRoutesDeps> = async (app, deps) => {
  await registerPageKit(app, deps.catalog);
  await app.register(signInRoutes, deps);
  // RP-initiated logout (issue #14 point 6).
  await app.register(logoutRoutes, { catalog: deps.catalog, logout: deps.logout });
  // The device flow's verification page, /T/activate and /T/device (RFC 8628 §3.3).
  await app.register(activatePages, deps);
  // The pages behind the account emails (issue #15 point 1): /T/reset-password and /T/verify-email.
  await app.register(accountPages, { catalog: deps.catalog, accounts: deps.accounts });
};
