// A command-line sign-in with the device authorization grant (RFC 8628)
// through openid-client v6: the CLI asks Latchkey for a device code, prints
// where to go and the code to type, polls until the person approves it on
// their phone or computer, then prints the tokens' claims.
//
//   node examples/device-login/login.mjs
//
// Plain ESM; openid-client comes from the root package's node_modules.

import * as oidc from 'openid-client';

const env = process.env;
const issuer = new URL(env.LATCHKEY_ISSUER ?? 'http://127.0.0.1:3000/acme/');
const clientId = env.CLIENT_ID ?? 'acme-cli';
const scope = env.SCOPE ?? 'openid profile email offline_access read:sample';
const audience = env.AUDIENCE ?? 'https://api.acme.test';

// A public client: a program on someone's machine cannot keep a secret (token_endpoint_auth_method: none).
// Plain http is for a Latchkey on this machine only; in production the issuer is https.
const config = await oidc.discovery(
  issuer,
  clientId,
  undefined,
  oidc.None(),
  issuer.protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : undefined,
);

if (!config.serverMetadata().device_authorization_endpoint) {
  console.error(`${issuer.href} does not advertise a device_authorization_endpoint: this Latchkey has no device flow.`);
  process.exit(1);
}

// RFC 8628 §3.1–3.2: the device code stays here; the person only ever sees the user code.
const authorization = await oidc.initiateDeviceAuthorization(config, { scope, ...(audience ? { audience } : {}) });
console.log(`To sign in, open ${authorization.verification_uri} and enter the code ${authorization.user_code}`);
if (authorization.verification_uri_complete) console.log(`or open ${authorization.verification_uri_complete}`);
console.log(`(the code expires in ${Math.round(authorization.expires_in / 60)} minutes)`);

try {
  // RFC 8628 §3.4–3.5: polls every `interval` seconds, slowing down when asked, until approved, denied or expired.
  const tokens = await oidc.pollDeviceAuthorizationGrant(config, authorization);
  console.log('Signed in.');
  console.log(`id_token claims: ${JSON.stringify(tokens.claims())}`);
  console.log(`scope: ${tokens.scope ?? scope}`);
  console.log(`refresh token: ${tokens.refresh_token ? 'yes' : 'no'}`);
} catch (err) {
  if (err instanceof oidc.ResponseBodyError) {
    // access_denied: the person chose Deny; expired_token: nobody approved in time.
    console.error(`Not signed in: ${err.error}${err.error_description ? ` (${err.error_description})` : ''}`);
    process.exitCode = 1;
  } else {
    throw err;
  }
}
