/**
 * Issue #15 point 5: every Management API answer a suite receives is checked
 * against the server's own OpenAPI 3.1 document: the status must be
 * documented for that operation, and the JSON body must match its schema
 * (Ajv, JSON Schema 2020-12, which OpenAPI 3.1 uses). A response the
 * document does not describe fails the test that received it.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';

interface OpenApiDocument {
  servers: Array<{ url: string }>;
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>>;
}

export class OpenApiConformance {
  private readonly ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: false });
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly templates: Array<{ template: string; pattern: RegExp }>;
  private readonly base: string;

  constructor(private readonly document: OpenApiDocument) {
    this.ajv.addSchema(document as object, 'openapi');
    this.base = new URL(document.servers[0]?.url ?? 'http://invalid').pathname;
    // Static segments before parameters: `/users-by-email` must not read as `/users/{id}`.
    this.templates = Object.keys(document.paths)
      .map((template) => ({ template, pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`) }))
      .sort((a, b) => parameterCount(a.template) - parameterCount(b.template));
  }

  /** Throws, naming the operation, when the answer is not what the document says. */
  check(method: string, url: string, status: number, body: unknown): void {
    const path = new URL(url).pathname.slice(this.base.length) || '/';
    if (path === '/openapi.json') return;
    const match = this.templates.find((t) => t.pattern.test(path));
    const operation = match && this.document.paths[match.template]?.[method.toLowerCase()];
    // An unknown path is answered by the API's 404, which no operation describes.
    if (!match || !operation) {
      if (status === 404 || status === 405) return;
      throw new Error(`OpenAPI: no operation ${method} ${path}, yet it answered ${status}`);
    }
    const response = operation.responses[String(status)];
    if (!response) throw new Error(`OpenAPI: ${method} ${match.template} answered ${status}, which the document does not list`);
    const media = response.content?.['application/json'];
    if (!media) {
      if (body !== undefined && body !== '')
        throw new Error(`OpenAPI: ${method} ${match.template} ${status} has a body the document does not describe`);
      return;
    }
    const pointer = `openapi#/paths/${pointerSegment(match.template)}/${method.toLowerCase()}/responses/${status}/content/application~1json/schema`;
    let validate = this.validators.get(pointer);
    if (!validate) {
      validate = this.ajv.getSchema(pointer);
      if (!validate) throw new Error(`OpenAPI: cannot compile ${pointer}`);
      this.validators.set(pointer, validate);
    }
    if (!validate(body)) {
      throw new Error(`OpenAPI: ${method} ${match.template} ${status} does not match its schema: ${this.ajv.errorsText(validate.errors)}`);
    }
  }
}

function parameterCount(template: string): number {
  return template.split('{').length - 1;
}

/** JSON Pointer escaping (RFC 6901), then URI escaping of what remains. */
function pointerSegment(segment: string): string {
  return encodeURIComponent(segment.replace(/~/g, '~0').replace(/\//g, '~1'));
}
