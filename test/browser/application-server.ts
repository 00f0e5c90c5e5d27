/**
 * A stand-in for an application's own web server on the loopback callback's
 * port: every path answers 200 with a small page (or the page a test gives
 * for that path), and the URLs it was sent to are recorded.
 *
 * Why a real listener and not page.route: Chromium 156 under playwright-core
 * 1.65 hands page.route the redirect that follows a form POST, but not the
 * one that follows a GET navigation (page.goto, or location.href): that
 * request goes to the network, and with nothing listening the navigation
 * fails with ERR_CONNECTION_REFUSED. Logout and prompt=none answer a GET with
 * a redirect to the application, so the application has to be there.
 */
import { createServer, type Server } from 'node:http';

export interface ApplicationServer {
  /** Every URL path and query the browser was sent to, in order. */
  visits: string[];
  close(): Promise<void>;
}

export async function startApplicationServer(port: number, pages: Record<string, string> = {}): Promise<ApplicationServer> {
  const visits: string[] = [];
  const server: Server = createServer((request, response) => {
    const url = request.url ?? '/';
    visits.push(url);
    const path = url.split('?', 1)[0] ?? '/';
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    response.end(pages[path] ?? '<!doctype html><html lang="en"><title>application</title><p>ok</p></html>');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    visits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
