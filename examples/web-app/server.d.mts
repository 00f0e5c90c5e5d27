// Types for server.mjs, so TypeScript callers (the test suite, your own
// server) can import createWebApp with strict checking.
import type { Express } from 'express';

export interface WebAppOptions {
  /** The tenant's issuer, trailing slash included (`http://127.0.0.1:3000/acme/`). */
  issuer: string;
  clientId: string;
  /** Absent: a public client (`token_endpoint_auth_method: none`). */
  clientSecret?: string;
  /** Where the browser reaches this app, no trailing slash: the callback is `${baseUrl}/callback`. */
  baseUrl: string;
  /** Default `openid profile email`. */
  scope?: string;
  /** The API the access token is for. */
  audience?: string;
}

/** Discovers the issuer, then resolves to the Express application (`/`, `/login`, `/callback`, `/userinfo`, `POST /logout`). */
export declare function createWebApp(options: WebAppOptions): Promise<Express>;
