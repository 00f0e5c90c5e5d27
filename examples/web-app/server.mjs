// A small web application that signs its users in on Latchkey's hosted
// sign-in page: the authorization code flow with PKCE (RFC 6749 §4.1,
// RFC 7636; RFC 9700 §2.1.1), through openid-client v6, which checks
// `state`, `iss` (RFC 9207), the nonce and the id_token for us.
//
// Plain ESM on Express 5 and openid-client, which Node resolves from the root
// package's node_modules. Run it directly (README.md):
//
//   node examples/web-app/server.mjs
//
// or import createWebApp() and mount it in a server of your own (the tests do).

import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import express from 'express';
import * as oidc from 'openid-client';

const SESSION_COOKIE = 'web_app_session';
// A sign-in that is not finished within this time starts again.
const PENDING_LIFETIME_MS = 10 * 60_000;

/**
 * Builds the Express application.
 *
 * @param {{ issuer: string, clientId: string, clientSecret?: string, baseUrl: string,
 *           scope?: string, audience?: string }} options
 *   `baseUrl` is where the browser reaches this app (no trailing slash): the
 *   callback is `${baseUrl}/callback`, the logout return `${baseUrl}/`.
 */
export async function createWebApp({ issuer, clientId, clientSecret, baseUrl, scope = 'openid profile email', audience }) {
  // Discovery (OIDC Discovery §4): openid-client insists that the document's issuer is exactly this one.
  // Plain http is for a Latchkey on this machine only; in production the issuer is https.
  const insecure = new URL(issuer).protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : undefined;
  const config = await oidc.discovery(new URL(issuer), clientId, clientSecret, undefined, insecure);
  const callbackUrl = `${baseUrl}/callback`;
  const homeUrl = `${baseUrl}/`;

  // The app's own session, in memory: a random id in an HttpOnly cookie. Latchkey's session is another one, on its own origin.
  /** @type {Map<string, { pending?: { verifier: string, state: string, nonce: string, at: number }, tokens?: object, claims?: object }>} */
  const sessions = new Map();
  const sessionOf = (req, res) => {
    const id = readCookie(req, SESSION_COOKIE);
    if (id !== undefined && sessions.has(id)) return sessions.get(id);
    const fresh = randomBytes(32).toString('base64url');
    const session = {};
    sessions.set(fresh, session);
    res.cookie(SESSION_COOKIE, fresh, { httpOnly: true, sameSite: 'lax', secure: baseUrl.startsWith('https:'), path: '/' });
    return session;
  };
  const endSession = (req, res) => {
    const id = readCookie(req, SESSION_COOKIE);
    if (id !== undefined) sessions.delete(id);
    res.clearCookie(SESSION_COOKIE, { path: '/' });
  };

  const app = express();
  app.disable('x-powered-by');
  app.use((_req, res, next) => {
    // form-action covers the redirect after a form post too (Chromium): the logout form ends at Latchkey.
    res.set({
      'cache-control': 'no-store',
      'content-security-policy': `default-src 'none'; form-action 'self' ${new URL(issuer).origin}; frame-ancestors 'none'`,
      'referrer-policy': 'no-referrer',
    });
    next();
  });

  app.get('/', (req, res) => {
    const session = sessionOf(req, res);
    if (!session.claims) {
      const body = '<p>You are not signed in.</p><p><a id="sign-in" href="/login">Sign in with Latchkey</a></p>';
      return res.type('html').send(page('Web app example', body));
    }
    // RFC 6749 §5.1: the token response names the scopes only when they differ from the request.
    const scopeGranted = session.tokens.scope ?? scope;
    res.type('html').send(
      page(
        'Signed in',
        `<p>Signed in as <strong id="who">${escape(session.claims.name ?? session.claims.sub)}</strong>.</p>
<h2>id_token claims</h2>
<pre id="claims">${escape(JSON.stringify(session.claims, null, 2))}</pre>
<p>Scopes granted: <code id="scope">${escape(scopeGranted)}</code>${session.tokens.refresh_token ? ' (with a refresh token)' : ''}</p>
<p><a id="userinfo" href="/userinfo">Call userinfo</a></p>
<form method="post" action="/logout"><button id="logout" type="submit">Sign out</button></form>`,
      ),
    );
  });

  // Step 1: send the browser to Latchkey's authorization endpoint with a fresh PKCE verifier, state and nonce.
  app.get('/login', async (req, res) => {
    const session = sessionOf(req, res);
    const verifier = oidc.randomPKCECodeVerifier();
    const pending = { verifier, state: oidc.randomState(), nonce: oidc.randomNonce(), at: Date.now() };
    session.pending = pending;
    const parameters = {
      redirect_uri: callbackUrl,
      scope,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: pending.state,
      nonce: pending.nonce,
      ...(audience ? { audience } : {}),
    };
    res.redirect(303, oidc.buildAuthorizationUrl(config, parameters).href);
  });

  // Step 2: Latchkey sends the browser back with `code`, `state` and `iss`; the code is redeemed with the verifier.
  app.get('/callback', async (req, res) => {
    const session = sessionOf(req, res);
    const pending = session.pending;
    session.pending = undefined;
    if (!pending || Date.now() - pending.at > PENDING_LIFETIME_MS) {
      const body = '<p>This sign-in was not started here, or took too long. <a href="/login">Start again</a>.</p>';
      return res.status(400).type('html').send(page('Sign-in expired', body));
    }
    try {
      const tokens = await oidc.authorizationCodeGrant(config, new URL(req.originalUrl, baseUrl), {
        pkceCodeVerifier: pending.verifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      session.tokens = {
        access_token: tokens.access_token,
        id_token: tokens.id_token,
        refresh_token: tokens.refresh_token,
        scope: tokens.scope,
      };
      session.claims = tokens.claims();
      res.redirect(303, '/');
    } catch (err) {
      // An `error` at the callback (access_denied, login_required …) or a failed check: say which, never the code.
      const reason = err instanceof oidc.AuthorizationResponseError ? `${err.error}: ${err.error_description ?? ''}` : err.message;
      res.status(400).type('html').send(page('Sign-in failed', `<p id="error">${escape(reason)}</p><p><a href="/login">Try again</a></p>`));
    }
  });

  // OIDC Core §5.3: userinfo with the access token; openid-client checks that `sub` is the id_token's.
  app.get('/userinfo', async (req, res) => {
    const session = sessionOf(req, res);
    if (!session.claims) return res.redirect(303, '/');
    try {
      const info = await oidc.fetchUserInfo(config, session.tokens.access_token, session.claims.sub);
      const body = `<pre id="userinfo-claims">${escape(JSON.stringify(info, null, 2))}</pre><p><a href="/">Back</a></p>`;
      res.type('html').send(page('Userinfo', body));
    } catch (err) {
      res.status(502).type('html').send(page('Userinfo failed', `<p id="error">${escape(err.message)}</p><p><a href="/">Back</a></p>`));
    }
  });

  // RP-initiated logout (OIDC RP-Initiated Logout §2): end our session, then Latchkey's, and come back to the home page.
  app.post('/logout', (req, res) => {
    const session = sessionOf(req, res);
    const idToken = session.tokens?.id_token;
    endSession(req, res);
    if (!config.serverMetadata().end_session_endpoint) return res.redirect(303, '/');
    const parameters = { post_logout_redirect_uri: homeUrl, ...(idToken ? { id_token_hint: idToken } : {}) };
    res.redirect(303, oidc.buildEndSessionUrl(config, parameters).href);
  });

  return app;
}

function readCookie(req, name) {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const index = part.indexOf('=');
    if (index !== -1 && part.slice(0, index).trim() === name) return part.slice(index + 1).trim();
  }
  return undefined;
}

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

function page(title, body) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>${escape(title)}</title></head>
<body><main><h1>${escape(title)}</h1>${body}</main></body></html>`;
}

function isMain() {
  try {
    return realpathSync(process.argv[1] ?? '') === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  const env = process.env;
  const port = Number(env.PORT ?? 5000);
  const host = env.HOST ?? '127.0.0.1';
  const app = await createWebApp({
    issuer: env.LATCHKEY_ISSUER ?? 'http://127.0.0.1:3000/acme/',
    clientId: env.CLIENT_ID ?? 'acme-web-app',
    // An empty CLIENT_SECRET makes a public client (token_endpoint_auth_method: none).
    clientSecret: env.CLIENT_SECRET === '' ? undefined : (env.CLIENT_SECRET ?? 'acme-web-app-secret-change-me'),
    baseUrl: env.BASE_URL ?? `http://${host}:${port}`,
    scope: env.SCOPE ?? 'openid profile email offline_access read:sample',
    audience: env.AUDIENCE ?? 'https://api.acme.test',
  });
  const server = app.listen(port, host, () => {
    const { port: actual } = server.address();
    console.log(`web app example listening on http://${host}:${actual}`);
  });
}
