/**
 * The import rule of DESIGN.md §5, checked by `npm run lint`.
 *
 * Floors, top to bottom; a module imports its own floor or the floors below:
 *   composition  src/{app,server,runtime}.ts, src/bootstrap/, src/cli/
 *   http         src/http/            routes, pages, dialects (Fastify lives here)
 *   oauth        src/oauth/           endpoints, grants, client authentication
 *   services     src/{tokens,identity,mfa,protection,hooks}/
 *   kernel       src/domain/, src/storage/*.ts (interfaces), src/config/, src/crypto/,
 *                src/observability/, src/clock.ts
 *   backends     src/storage/{sql,redis,migrations}/ (known to the composition root only)
 */
const COMPOSITION = '^src/(app|server|runtime)\\.ts$|^src/bootstrap/|^src/cli/';
const HTTP = '^src/http/';
const OAUTH = '^src/oauth/';
const SERVICES = '^src/(tokens|identity|mfa|protection|hooks)/';
const KERNEL = '^src/(domain|config|crypto|observability)/|^src/storage/[^/]+\\.ts$|^src/clock\\.ts$';
const BACKENDS = '^src/storage/(sql|redis|migrations)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import cycle: the two modules belong in one, or what they share belongs in a module below both.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'kernel-imports-kernel-only',
      severity: 'error',
      comment:
        'domain/, config/, crypto/, observability/ and the storage interfaces are what every layer shares: they import nothing above them.',
      from: { path: KERNEL },
      to: { path: `${COMPOSITION}|${HTTP}|${OAUTH}|${SERVICES}` },
    },
    {
      name: 'services-below-oauth',
      severity: 'error',
      comment: 'tokens/, identity/, mfa/, protection/ and hooks/ sit below oauth/ (DESIGN.md §5): move the shared type to domain/.',
      from: { path: SERVICES },
      to: { path: `${COMPOSITION}|${HTTP}|${OAUTH}` },
    },
    {
      name: 'oauth-below-http',
      severity: 'error',
      comment: 'oauth/ holds the endpoints as typed request → typed result; HTTP is translated in http/.',
      from: { path: OAUTH },
      to: { path: `${COMPOSITION}|${HTTP}` },
    },
    {
      name: 'http-below-composition',
      severity: 'error',
      comment: 'Routes receive the services they use; they never reach for the composition root.',
      from: { path: HTTP },
      to: { path: COMPOSITION },
    },
    {
      name: 'backends-from-composition-only',
      severity: 'error',
      comment: 'Only the composition root knows the concrete stores; everything else takes the interfaces of storage/stores.ts.',
      from: { path: '^src/', pathNot: `${COMPOSITION}|${BACKENDS}|^src/storage/database\\.ts$` },
      to: { path: BACKENDS },
    },
    {
      name: 'fastify-in-http-only',
      severity: 'error',
      comment: 'HTTP is an adapter (STYLE.md principle 8): Fastify is imported only by http/ and the composition root.',
      from: { path: '^src/', pathNot: `${HTTP}|${COMPOSITION}` },
      to: { path: '(^|/)node_modules/(fastify|@fastify/)' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^(src|node_modules/(fastify|@fastify))',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.cjs', '.mjs', '.cts'],
    },
  },
};
