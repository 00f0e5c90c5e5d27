/**
 * The verification page's templates (RFC 8628 §3.3, DESIGN.md §7). Eta
 * escapes every `<%= %>`; the layout adds the tenant's name and the heading.
 */

/**
 * The code form: a fillable `user_code` input with its label, submitted by a
 * plain button (not named `action`). A code from `verification_uri_complete`
 * is pre-filled but still needs the press (RFC 8628 §5.4).
 */
export const ENTER_CODE = `<% layout('@layout') %>
<% if (it.alert) { %><p class="alert" role="alert" id="user-code-error"><%= it.alert %></p><% } %>
<p><%= it.prefilled ? 'Check that this code is the one your device shows, then continue.' : 'Enter the code your device shows.' %></p>
<form method="post" action="<%= it.action %>">
<input type="hidden" name="_csrf" value="<%= it.csrf %>">
<label for="user_code">Device code</label>
<input type="text" id="user_code" name="user_code" value="<%= it.userCode %>" autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="32" required aria-describedby="user-code-hint<%= it.alert ? ' user-code-error' : '' %>"<% if (it.alert) { %> aria-invalid="true"<% } %>>
<p class="hint" id="user-code-hint">8 letters, shown on the device as XXXX-XXXX.</p>
<button type="submit">Continue</button>
</form>
`;

/**
 * The decision, after the sign-in: what the device asked for, and where
 * and when, before anything is approved (RFC 8628 §5.4, remote phishing).
 * Two submit buttons named `action`.
 */
export const DECIDE = `<% layout('@layout') %>
<p><strong><%= it.appName %></strong> is asking to use your account on a device.</p>
<dl class="details">
<dt>Signed in as</dt><dd><%= it.username %></dd>
<dt>Application</dt><dd><%= it.appName %></dd>
<dt>Code on the device</dt><dd><span class="code"><%= it.userCode %></span></dd>
<dt>Access asked for</dt><dd><%= it.scopes.length > 0 ? it.scopes.join(', ') : 'Sign-in only' %></dd>
<% if (it.audience) { %><dt>API</dt><dd><%= it.audience %></dd>
<% } %><dt>Requested from</dt><dd><%= it.requestIp %></dd>
<dt>Device</dt><dd><%= it.userAgent %></dd>
<dt>Requested at</dt><dd><%= it.requestedAt %></dd>
</dl>
<p class="hint">Confirm only if you started this sign-in yourself, on a device in front of you. If someone sent you this code or link, deny.</p>
<form method="post" action="<%= it.action %>">
<input type="hidden" name="_csrf" value="<%= it.csrf %>">
<input type="hidden" name="tx" value="<%= it.tx %>">
<div class="actions">
<button type="submit" name="action" value="confirm">Confirm</button>
<button type="submit" name="action" value="deny" class="secondary">Deny</button>
</div>
</form>
`;
