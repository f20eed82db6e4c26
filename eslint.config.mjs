// @ts-check
// Lint: typescript-eslint's recommended rules, and the layer rule (README, "Architecture") written as
// `no-restricted-imports` on each layer's folder: which of our folders and which libraries it may
// not import. A crossing fails `npm run lint` (and so .ci/run).
import tseslint from 'typescript-eslint';

/** A relative import reaching one of our top-level folders or files under src/ (regex over the import string). */
const into = (names, message) => ({ regex: `^(\\.\\./)+(${names.join('|')})(/|\\.js$|$)`, message });

/** Libraries that belong to a transport: HTTP server, GraphQL server and schema, WebSocket, metrics. */
const TRANSPORT_LIBRARIES = {
  regex: '^((fastify|type-graphql|graphql|graphql-[^/]+|ws|prom-client)(/|$)|@(fastify|as-integrations|apollo|escape\\.tech)/)',
  message: 'A transport library: the domain and the database layer know no transport (README, "Architecture").',
};

/** What sits above the domain: the transports, the composition root and the programs. */
const ABOVE_DOMAIN = ['graphql', 'http', 'legacy', 'realtime', 'metrics', 'deploy', 'app', 'services', 'main'];
const DOMAIN_MESSAGE = 'src/modules/ is the domain: it imports no transport, composition root or program (README, "Architecture").';

const restrict = (...patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });

export default tseslint.config(
  { ignores: ['dist/', 'dist-bench/', 'node_modules/', 'coverage/', 'data/', '.test-build/', '.test-tmp/', '.node24/', '.bench/'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      // `_name` marks a parameter an interface makes us accept; a rest sibling drops a property.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // A callback that reads a timer set after it (clearTimeout before setTimeout) is not a constant.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // Tests read JSON answers whose shape is the thing under test.
    files: ['test/**/*.ts', 'src/**/*.test.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  // The domain: no transport, composition root, program (cli/) or transport library.
  {
    files: ['src/modules/**/*.ts'],
    ignores: ['src/modules/**/*.test.ts'],
    rules: restrict(into([...ABOVE_DOMAIN, 'cli'], DOMAIN_MESSAGE), TRANSPORT_LIBRARIES),
  },
  // Its unit tests likewise, except that the credential test runs the credential program it backs.
  { files: ['src/modules/**/*.test.ts'], rules: restrict(into(ABOVE_DOMAIN, DOMAIN_MESSAGE), TRANSPORT_LIBRARIES) },
  // The database layer serves the domain: same rule.
  { files: ['src/db/**/*.ts'], rules: restrict(into([...ABOVE_DOMAIN, 'cli'], 'src/db/ is below the transports.'), TRANSPORT_LIBRARIES) },
  // shared/: Node's built-ins and its own files only, no library and nothing else of ours.
  {
    files: ['src/shared/**/*.ts'],
    rules: restrict({ regex: '^(?!\\./|node:)', message: 'src/shared/ imports only its own files and node: built-ins.' }),
  },
  // Transports depend on the domain, not on each other: GraphQL knows no HTTP route, legacy endpoint or socket;
  // the legacy endpoint no GraphQL or socket; plain HTTP routes no legacy endpoint or socket. (realtime/ runs
  // GraphQL over WebSocket, so it may import graphql/ and http/'s client address.)
  { files: ['src/graphql/**/*.ts'], rules: restrict(into(['http', 'legacy', 'realtime', 'metrics'], 'graphql/ is one transport: it imports no other.')) },
  {
    files: ['src/legacy/**/*.ts'],
    rules: restrict(into(['graphql', 'realtime', 'metrics'], 'legacy/ is one transport: it imports no other (http/ is its HTTP plumbing).')),
  },
  { files: ['src/http/**/*.ts'], rules: restrict(into(['legacy', 'realtime'], 'http/ is plain HTTP plumbing: it imports no other transport.')) },
  // realtime/ never the legacy endpoint; of metrics/ only the observer types it reports to (metrics stay optional).
  {
    files: ['src/realtime/**/*.ts'],
    rules: {
      ...restrict(into(['legacy'], 'realtime/ is one transport: it imports no other (graphql/ is what it runs, http/ its plumbing).')),
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ ...into(['metrics'], 'realtime/ reports to metrics/ through its observer types only.'), allowTypeImports: true }] },
      ],
    },
  },
  // Raw SQL outside src/db/ goes through db/sql.ts (`execute(em, sql, params)`), which runs in em's transaction:
  // the connection's own execute runs outside it unless the caller remembers to pass the context.
  {
    files: ['src/**/*.ts'],
    ignores: ['src/db/**'],
    rules: {
      'no-restricted-properties': [
        'error',
        ...['getConnection', 'getKnex'].map((property) => ({
          property,
          message: `Raw SQL runs through execute(em, sql, params) in src/db/sql.ts, which carries em's transaction; ${property}() outside src/db/ can run a statement outside it.`,
        })),
      ],
    },
  },
);
