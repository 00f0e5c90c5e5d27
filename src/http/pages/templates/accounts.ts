/**
 * The password-reset page (DESIGN.md §8). Field names are a contract:
 * `password` and `password_confirmation`, both `new-password` for password
 * managers; the ticket and the CSRF token ride as hidden inputs.
 */
export const RESET_PASSWORD = `<% layout('@layout') %>
<% if (it.alert) { %><p class="alert" role="alert"><%= it.alert %></p><% } %>
<p>Choose a new password for <strong><%= it.account %></strong>.</p>
<form method="post" action="<%= it.action %>">
<input type="hidden" name="_csrf" value="<%= it.csrf %>">
<input type="hidden" name="ticket" value="<%= it.ticket %>">
<input type="hidden" name="username" value="<%= it.account %>" autocomplete="username">
<label for="password">New password</label>
<input id="password" name="password" type="password" autocomplete="new-password" required>
<label for="password_confirmation">New password again</label>
<input id="password_confirmation" name="password_confirmation" type="password" autocomplete="new-password" required>
<button type="submit">Set the new password</button>
</form>
`;
