/**
 * The frame of every hosted page: the tenant's name, a heading, the page's
 * body. Eta escapes `<%= %>` by default; `<%~ %>` (unescaped) is used only
 * for the body, which Eta itself rendered.
 */
export const LAYOUT = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title><%= it.title %> · <%= it.tenantName %></title>
<link rel="stylesheet" href="<%= it.assetBase %>latchkey.css">
<% if (it.script) { %><script src="<%= it.assetBase %><%= it.script %>" defer></script><% } %>
</head>
<body>
<main class="card">
<p class="tenant"><%= it.tenantName %></p>
<h1><%= it.title %></h1>
<%~ it.body %>
</main>
</body>
</html>
`;

/** A sentence for the person, and where to go next when there is somewhere. */
export const MESSAGE = `<% layout('@layout') %>
<% if (it.alert) { %><p class="alert" role="alert"><%= it.alert %></p><% } %>
<% for (const line of it.lines ?? []) { %><p><%= line %></p><% } %>
<% if (it.link) { %><p><a class="button" href="<%= it.link.href %>"><%= it.link.text %></a></p><% } %>
`;

/**
 * response_mode=form_post (OAuth 2.0 Form Post Response Mode): the answer
 * posted to the callback. /assets/form-post.js submits it at once; without
 * JavaScript the person presses the button. No inline script (the CSP
 * forbids it).
 */
export const FORM_POST = `<% layout('@layout') %>
<form method="post" action="<%= it.action %>" id="form-post">
<% for (const [name, value] of it.fields) { %><input type="hidden" name="<%= name %>" value="<%= value %>">
<% } %>
<p>Signing you in to <%= it.appName %>…</p>
<button type="submit">Continue</button>
</form>
`;
