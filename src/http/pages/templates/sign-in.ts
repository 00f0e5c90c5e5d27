/**
 * The sign-in pages (DESIGN.md §7): the password form, the second factor,
 * the enrolment of an authenticator app, and a recovery code shown once.
 * Field names are a contract: `username` and `password` with their
 * autocomplete tokens, `otp` as `one-time-code`; the submit buttons are never
 * named `action` (that name is the device page's decision).
 */
const ALERT = `<% if (it.alert) { %><p class="alert" role="alert"><%= it.alert %></p><% } %>`;
const HIDDEN = `<input type="hidden" name="_csrf" value="<%= it.csrf %>">
<input type="hidden" name="tx" value="<%= it.tx %>">`;

export const LOGIN = `<% layout('@layout') %>
${ALERT}
<p>Sign in to continue to <strong><%= it.appName %></strong>.</p>
<form method="post" action="<%= it.action %>">
${HIDDEN}
<input type="hidden" name="step" value="password">
<label for="username">Email or username</label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required value="<%= it.username %>">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<% if (it.realms.length > 1) { %>
<label for="realm">Sign in with</label>
<select id="realm" name="realm">
<% for (const realm of it.realms) { %><option value="<%= realm %>"<%= realm === it.realm ? ' selected' : '' %>><%= realm %></option>
<% } %></select>
<% } %>
<button type="submit">Continue</button>
</form>
`;

export const SECOND_FACTOR = `<% layout('@layout') %>
${ALERT}
<% if (it.method === 'email') { %><p>We emailed you a code. Enter it to finish signing in.</p>
<% } else { %><p>Enter the 6-digit code from your authenticator app.</p><% } %>
<form method="post" action="<%= it.action %>">
${HIDDEN}
<input type="hidden" name="step" value="code">
<input type="hidden" name="mfa_token" value="<%= it.mfaToken %>">
<% if (it.oobCode) { %><input type="hidden" name="oob_code" value="<%= it.oobCode %>"><% } %>
<label for="otp">Code</label>
<input id="otp" name="otp" type="text" inputmode="numeric" autocomplete="one-time-code" required>
<button type="submit">Verify</button>
</form>
<h2>Can't use your <%= it.method === 'email' ? 'email' : 'app' %>?</h2>
<form method="post" action="<%= it.action %>">
${HIDDEN}
<input type="hidden" name="step" value="recovery">
<input type="hidden" name="mfa_token" value="<%= it.mfaToken %>">
<label for="recovery_code">Recovery code</label>
<input id="recovery_code" name="recovery_code" type="text" autocomplete="off" autocapitalize="characters" spellcheck="false" required>
<button class="secondary" type="submit">Use recovery code</button>
</form>
`;

export const ENROL = `<% layout('@layout') %>
${ALERT}
<p>Your account needs a second step. Scan this code with an authenticator app, then enter the 6-digit code it shows.</p>
<img class="qr" src="<%= it.qr %>" alt="QR code to add this account to an authenticator app">
<p class="hint">Can't scan it? Enter this key in the app instead:</p>
<p class="code"><%= it.secret %></p>
<form method="post" action="<%= it.action %>">
${HIDDEN}
<input type="hidden" name="step" value="enrol">
<input type="hidden" name="mfa_token" value="<%= it.mfaToken %>">
<input type="hidden" name="enrolment" value="<%= it.sealed %>">
<label for="otp">Code from the app</label>
<input id="otp" name="otp" type="text" inputmode="numeric" autocomplete="one-time-code" required>
<button type="submit">Confirm</button>
</form>
`;

export const RECOVERY_CODE = `<% layout('@layout') %>
<p>Save this recovery code somewhere safe. It is shown only this once; use it to sign in if you lose your authenticator.</p>
<p class="code"><%= it.recoveryCode %></p>
<form method="post" action="<%= it.action %>">
${HIDDEN}
<input type="hidden" name="step" value="continue">
<button type="submit">Continue</button>
</form>
`;
