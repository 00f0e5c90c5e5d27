/**
 * The hosted pages' only assets, served by Latchkey itself (no external
 * asset, DESIGN.md §7): one small stylesheet, and the script that submits a
 * form_post answer (the pages allow no inline script). Both are immutable
 * per version, so browsers may cache them.
 */
import type { FastifyPluginAsync } from 'fastify';

const STYLESHEET = `:root{color-scheme:light;--ink:#1b1f24;--muted:#4b5563;--line:#c8ced6;--accent:#1d4ed8;--accent-ink:#fff;--danger:#9f1239;--danger-bg:#fff1f2;--bg:#f3f4f6}
*{box-sizing:border-box}
html{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:var(--bg)}
body{margin:0;min-height:100vh;display:flex;align-items:flex-start;justify-content:center;padding:3rem 1rem}
.card{width:100%;max-width:26rem;background:#fff;border:1px solid var(--line);border-radius:12px;padding:2rem 1.75rem;box-shadow:0 1px 3px rgba(0,0,0,.06)}
.tenant{margin:0 0 .25rem;color:var(--muted);font-size:.875rem;letter-spacing:.02em;text-transform:uppercase}
h1{margin:0 0 1.25rem;font-size:1.5rem;line-height:1.25}
h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
p{margin:0 0 1rem}
label{display:block;font-weight:600;margin:0 0 .35rem}
input[type=text],input[type=password],input[type=email],select{width:100%;font:inherit;padding:.6rem .75rem;border:1px solid #8a94a3;border-radius:8px;background:#fff;color:var(--ink);margin:0 0 1rem}
input:focus,select:focus,button:focus,a:focus{outline:3px solid #93c5fd;outline-offset:1px}
button,.button{display:inline-block;width:100%;font:inherit;font-weight:600;text-align:center;text-decoration:none;padding:.65rem 1rem;border-radius:8px;border:1px solid var(--accent);background:var(--accent);color:var(--accent-ink);cursor:pointer;margin:0 0 .75rem}
button.secondary,.button.secondary{background:#fff;color:var(--accent)}
.actions{display:flex;gap:.75rem}
.actions button{flex:1}
.alert{padding:.75rem 1rem;border-radius:8px;background:var(--danger-bg);color:var(--danger);border:1px solid #fecdd3}
.hint,.details dt{color:var(--muted);font-size:.9rem}
.details{margin:0 0 1.25rem}
.details dd{margin:0 0 .5rem;font-weight:600;overflow-wrap:anywhere}
.code{font:600 1.25rem/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;letter-spacing:.08em;overflow-wrap:anywhere;background:var(--bg);padding:.5rem .75rem;border-radius:8px}
.qr{display:block;margin:0 auto 1rem;width:12rem;height:12rem;image-rendering:pixelated}
`;

const FORM_POST_SCRIPT = `document.getElementById('form-post')?.submit();\n`;

export const assetRoutes: FastifyPluginAsync = async (app) => {
  // Browsers ask for it on every page; no content is better than a logged 404.
  app.get('/favicon.ico', async (_request, reply) => reply.code(204).header('cache-control', 'public, max-age=86400').send());
  app.get('/assets/latchkey.css', async (_request, reply) =>
    reply.header('content-type', 'text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(STYLESHEET),
  );
  app.get('/assets/form-post.js', async (_request, reply) =>
    reply.header('content-type', 'text/javascript; charset=utf-8').header('cache-control', 'public, max-age=3600').send(FORM_POST_SCRIPT),
  );
};
