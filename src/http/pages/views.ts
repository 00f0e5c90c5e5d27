/**
 * Server-rendered pages (DESIGN.md §7) with Eta, which escapes every value
 * by default: user data never reaches HTML by string concatenation. Templates
 * are TypeScript strings (./templates/), registered here under `@name`, so
 * the build needs no asset copying.
 */
import { Eta } from 'eta';
import { FORM_POST, LAYOUT, MESSAGE } from './templates/layout.js';

export interface PageFrame {
  title: string;
  tenantName: string;
  /** Where /assets/ is for this tenant's public_url (ends with a slash). */
  assetBase: string;
  /** An asset script under /assets/ (form-post.js); no page has inline script. */
  script?: string;
}

const eta = new Eta({ autoEscape: true, useWith: false, cache: true, autoTrim: false });
eta.loadTemplate('@layout', LAYOUT);

/** Registers a page template; `name` without the `@`. Done once, at module load, by each page module. */
export function defineView<Data extends object>(name: string, template: string): (data: Data & PageFrame) => string {
  eta.loadTemplate(`@${name}`, template);
  return (data) => eta.render(`@${name}`, data);
}

export interface MessageData {
  alert?: string;
  lines?: string[];
  link?: { href: string; text: string };
}

export const messageView = defineView<MessageData>('message', MESSAGE);
export const formPostView = defineView<{ action: string; fields: Array<[string, string]>; appName: string }>('form-post', FORM_POST);
