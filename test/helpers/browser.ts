/**
 * A real browser for the hosted pages' suites: Debian's `chromium`, driven
 * headless by playwright-core (Playwright's own browser download cannot
 * work here), with axe-core run inside the page for accessibility.
 *
 * chromium is not part of the base image, so chromiumUnavailableReason()
 * installs it with apt when it is missing (CI's .ci/run does it first).
 * When that is impossible, the suites are skipped and the reason is printed.
 *
 * Every page comes from newPage() in a context of its own (no cookies shared
 * between tests), and records what went wrong while it ran — console errors
 * (a CSP violation is one), uncaught exceptions, failed requests — for
 * pageProblems().
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { AxeResults, ImpactValue, RunOptions } from 'axe-core';
import { chromium, type Browser, type BrowserContext, type CDPSession, type Page } from 'playwright-core';
import { installWithApt } from './apt-install.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'];

let unavailable: { reason: string | undefined } | undefined;

/**
 * Why the browser suites cannot run here, or undefined when they can.
 * Installs chromium first when it is missing (as root, with apt;
 * synchronous, and serialised across test files by a lock file). Callers
 * pass the result to `describe(name, { skip })`; a reason is also printed,
 * once per process.
 */
export function chromiumUnavailableReason(): string | undefined {
  if (unavailable === undefined) {
    const missingFile = () => (existsSync(CHROMIUM) ? undefined : CHROMIUM);
    const reason = missingFile() === undefined ? undefined : installWithApt({ name: 'chromium', packages: ['chromium'], missingFile });
    if (reason !== undefined) console.log(`# SKIPPED browser suites: ${reason}`);
    unavailable = { reason };
  }
  return unavailable.reason;
}

/** Starts a headless chromium; close it in `after()`. Call chromiumUnavailableReason() first (it installs chromium when it can). */
export async function launchBrowser(): Promise<Browser> {
  const reason = chromiumUnavailableReason();
  if (reason !== undefined) throw new Error(`chromium cannot be started: ${reason}`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
}

export interface NewPageOptions {
  /** false: the page's scripts never run, as for a visitor who turned JavaScript off. Default true. */
  javaScriptEnabled?: boolean;
}

const problemsByPage = new WeakMap<Page, string[]>();
const scriptlessContexts = new WeakSet<BrowserContext>();

/**
 * Chromium fetches /favicon.ico by itself for a page that names no icon, at
 * some moment after the load, and logs a 404 as a console error: that is the
 * browser's doing, not the page's.
 */
function isImplicitFavicon(url: string): boolean {
  try {
    return new URL(url).pathname === '/favicon.ico';
  } catch {
    return false;
  }
}

function watch(page: Page): void {
  if (problemsByPage.has(page)) return;
  const problems: string[] = [];
  problemsByPage.set(page, problems);
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    const at = message.location().url;
    if (isImplicitFavicon(at)) return;
    problems.push(`console error: ${message.text()}${at ? ` (${at})` : ''}`);
  });
  page.on('pageerror', (error) => problems.push(`uncaught exception: ${error.message}`));
  page.on('requestfailed', (request) =>
    problems.push(`request failed: ${request.method()} ${request.url()} (${request.failure()?.errorText ?? 'no reason given'})`),
  );
  page.on('crash', () => problems.push('the page crashed'));
}

/**
 * A page in a fresh browser context: its own cookies and storage. Further
 * pages of that context (`page.context().newPage()`, popups) share them and
 * are watched too. The context closes with the browser, or with
 * `page.context().close()`.
 */
export async function newPage(browser: Browser, options: NewPageOptions = {}): Promise<Page> {
  const javaScriptEnabled = options.javaScriptEnabled ?? true;
  const context = await browser.newContext({ javaScriptEnabled });
  if (!javaScriptEnabled) scriptlessContexts.add(context);
  context.on('page', watch);
  const page = await context.newPage();
  watch(page);
  return page;
}

/**
 * What went wrong on the page so far, one line each: console errors (CSP
 * refusals among them, and Chromium's "Failed to load resource" for an
 * HTTP error status; Chromium's own /favicon.ico fetch aside), uncaught
 * exceptions, failed requests, a crash.
 * `assert.deepEqual(pageProblems(page), [])` proves a clean load.
 */
export function pageProblems(page: Page): string[] {
  const problems = problemsByPage.get(page);
  if (problems === undefined) throw new TypeError('pageProblems: the page was not opened by newPage() or in a context it made');
  return [...problems];
}

let axeSource: string | undefined;

function axeCoreSource(): string {
  axeSource ??= readFileSync(join(dirname(createRequire(import.meta.url).resolve('axe-core')), 'axe.min.js'), 'utf8');
  return axeSource;
}

interface Violation {
  id: string;
  impact: ImpactValue | undefined;
  help: string;
  helpUrl: string;
  targets: string[];
}

/** Runs in the page (serialised by Playwright: it may use nothing from this module). */
async function runAxe(): Promise<Violation[]> {
  const { axe } = globalThis as unknown as { axe: { run(options: RunOptions): Promise<AxeResults> } };
  const results = await axe.run({ resultTypes: ['violations'] });
  return results.violations.map((v) => ({
    id: v.id,
    impact: v.impact ?? undefined,
    help: v.help,
    helpUrl: v.helpUrl,
    targets: v.nodes.map((node) => node.target.map((part) => (Array.isArray(part) ? part.join(' >>> ') : part)).join(' ')),
  }));
}

/**
 * axe.run needs timers and promises in the page, and with script execution
 * disabled (javaScriptEnabled: false) a page-side timer closes the page
 * instead. So a scriptless page gets scripts back for the check, through a
 * CDP session of our own, and loses them again afterwards; the page's own
 * scripts stay unrun (they were skipped when the document was parsed), and
 * its <noscript> content is what axe sees. A session's emulation agent
 * ignores a value equal to its last one (initially false): hence true, then
 * false.
 */
async function allowScripts(page: Page): Promise<CDPSession> {
  const session = await page.context().newCDPSession(page);
  await session.send('Emulation.setScriptExecutionDisabled', { value: true });
  await session.send('Emulation.setScriptExecutionDisabled', { value: false });
  return session;
}

async function disallowScripts(session: CDPSession): Promise<void> {
  await session.send('Emulation.setScriptExecutionDisabled', { value: true });
  await session.detach();
}

/**
 * Runs axe-core in the page as it is now and throws an AssertionError
 * listing every `serious` or `critical` violation (rule id, help, the
 * failing nodes' selectors); lesser ones pass.
 *
 * axe's source goes in through page.evaluate, i.e. CDP Runtime.evaluate,
 * which the page's CSP does not govern. page.addScriptTag would add an
 * inline <script>, which the hosted pages' `script-src` refuses (and the
 * refusal would land in pageProblems); a `bypassCSP: true` context would
 * work, but would switch off the very policy the suites assert on.
 */
export async function checkAccessibility(page: Page): Promise<void> {
  const session = scriptlessContexts.has(page.context()) ? await allowScripts(page) : undefined;
  let violations: Violation[];
  try {
    if (!(await page.evaluate('typeof axe !== "undefined"'))) await page.evaluate(axeCoreSource());
    violations = await page.evaluate(runAxe);
  } finally {
    if (session !== undefined) await disallowScripts(session);
  }
  const blocking = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (blocking.length === 0) return;
  const lines = blocking.map((v) => [`- ${v.id} (${v.impact}): ${v.help} <${v.helpUrl}>`, ...v.targets.map((t) => `    ${t}`)].join('\n'));
  assert.fail(`${blocking.length} serious or critical accessibility violation(s) on ${page.url()}:\n${lines.join('\n')}`);
}
