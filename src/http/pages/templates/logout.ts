/**
 * The logout pages (OpenID Connect RP-Initiated Logout 1.0, DESIGN.md §7).
 * The confirmation is one form: the decision is a submit button named
 * `action` (`confirm` or `deny`), the request's parameters ride along in
 * hidden inputs, with the CSRF token. There is no visible input, so no label
 * is needed; the two buttons say what they do.
 */
export const LOGOUT_CONFIRM = `<% layout('@layout') %>
<% if (it.userName) { %><p>You are signed in as <strong><%= it.userName %></strong>.</p><% } %>
<% if (it.appName) { %><p><%= it.appName %> asks to sign you out.</p><% } else { %><p>An application asks to sign you out.</p><% } %>
<p class="hint">Signing out ends your session here: the next sign-in to any application of <%= it.tenantName %> asks for your password again.</p>
<form method="post" action="<%= it.action %>">
<input type="hidden" name="_csrf" value="<%= it.csrf %>">
<% for (const [name, value] of it.carried) { %><input type="hidden" name="<%= name %>" value="<%= value %>">
<% } %>
<div class="actions">
<button type="submit" name="action" value="confirm">Sign out</button>
<button type="submit" name="action" value="deny" class="secondary">Stay signed in</button>
</div>
</form>
`;
