import type { GatewayExecutor, GatewayInterface } from '@apollo/server-gateway-interface';
import {
  execute,
  getNamedType,
  GraphQLError,
  isInputObjectType,
  isNonNullType,
  printSchema,
  typeFromAST,
  type DocumentNode,
  type GraphQLInputObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { getVariableValues } from 'graphql/execution/values';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import { expandedFieldCount } from './selection';

/**
 * Largest document, counted in fields with every fragment spread expanded, that graphql-jit
 * compiles. Its compiler walks the expanded tree below each field without remembering which
 * fragments it has seen (graphql-jit 0.8.9, `augmentFieldNodeTree`), so fragments that each
 * spread the next one twice cost it 2^depth: 20 levels took 0.9 s, 24 would take 15 s. A
 * document without repeated spreads expands to no more fields than its tokens (at most 1,000);
 * anything above this runs on graphql-js, whose execution visits each fragment once per
 * selection set.
 */
export const MAX_JIT_EXPANDED_FIELDS = 5_000;

/**
 * Executes queries and mutations with graphql-jit: each document is compiled once into a
 * JavaScript function specialised to its selection, then run for every request with that
 * document. On the list page (50 tickets with replies, history, users and flags) execution was
 * the largest share of the server's CPU after JSON serialisation (docs/performance.md).
 *
 * Apollo accepts a custom executor only through its gateway interface; this "gateway" serves the
 * one local schema and never changes it. Parsing, validation (including our limits), context,
 * error formatting and plugins stay Apollo's. Subscriptions and anything graphql-jit declines to
 * compile, documents whose variables it would coerce wrongly (jitCoercesVariablesOf), and requests
 * whose variables do not coerce, run on graphql-js's `execute`.
 */
export function jitGateway(schema: GraphQLSchema): GatewayInterface {
  // Apollo keeps one DocumentNode per distinct query in its bounded document store, so a weak
  // map keyed by document is bounded by that store and needs no eviction of its own.
  const compiled = new WeakMap<DocumentNode, Map<string, CompiledQuery | null>>();

  const compile = (document: DocumentNode, operation: OperationDefinitionNode, operationName: string | null): CompiledQuery | null => {
    let byOperation = compiled.get(document);
    if (!byOperation) compiled.set(document, (byOperation = new Map()));
    const key = operationName ?? '';
    let query = byOperation.get(key);
    if (query === undefined) {
      const declined = expandedFieldCount(document, operation, MAX_JIT_EXPANDED_FIELDS) > MAX_JIT_EXPANDED_FIELDS || !jitCoercesVariablesOf(schema, operation);
      const result = declined ? null : compileQuery(schema, document, operationName ?? undefined);
      query = result && isCompiledQuery(result) ? result : null;
      byOperation.set(key, query);
    }
    return query;
  };

  const executor: GatewayExecutor = async (requestContext) => {
    const { document, operation, context, request } = requestContext;
    // The name the client asked for: Apollo's own `operationName` is that of the operation it
    // resolved, null when none matched, and graphql-js would then run the document's only one.
    const operationName = request.operationName ?? null;
    // No operation: the document has several and none is named, or not the one asked for;
    // graphql-js words that refusal.
    const query = !operation || operation.operation === 'subscription' ? null : compile(document, operation, operationName);
    // Variables that do not coerce are answered by graphql-js, whose errors Apollo recognises as
    // BAD_USER_INPUT with HTTP 400 (graphql-jit words and shapes them differently).
    const coercion = query ? getVariableValues(schema, operation?.variableDefinitions ?? [], request.variables ?? {}) : undefined;
    if (!query || coercion?.errors) {
      return execute({ schema, document, operationName, contextValue: context, variableValues: request.variables });
    }
    const result = await query.query(undefined, context, request.variables ?? {});
    return result.errors ? { ...result, errors: result.errors.map(asGraphQLJsError) } : result;
  };

  return {
    async load() {
      return { executor };
    },
    onSchemaLoadOrUpdate(callback) {
      callback({ apiSchema: schema, coreSupergraphSdl: printSchema(schema) });
      return () => undefined;
    },
    async stop() {},
  };
}

/**
 * Whether graphql-jit 0.8.9 coerces the operation's variables as graphql-js does. Its compiled
 * variable parser (`generateInput` in graphql-jit's variables.js) fills in an input field's
 * default only when the field is nullable: an omitted non-null field with a default is reported
 * "of required type … was not provided" (graphql-js uses the default, so the request passed our
 * coercion check and then failed as an internal error); and it writes each default as
 * `JSON.stringify` of its internal value, so a default JSON does not carry faithfully (a Date, a
 * bigint, undefined inside) would arrive changed. An operation whose variables can reach such a
 * field (through nested input objects and lists) runs on graphql-js; every other one stays
 * compiled. Defaults in literals are not affected: graphql-jit reads arguments with graphql-js's
 * own value coercion.
 */
export function jitCoercesVariablesOf(schema: GraphQLSchema, operation: OperationDefinitionNode): boolean {
  const seen = new Set<GraphQLInputObjectType>();
  const pending: GraphQLInputObjectType[] = [];
  const visit = (type: unknown): void => {
    const named = type ? getNamedType(type as Parameters<typeof getNamedType>[0]) : undefined;
    if (named && isInputObjectType(named) && !seen.has(named)) {
      seen.add(named);
      pending.push(named);
    }
  };
  for (const definition of operation.variableDefinitions ?? []) visit(typeFromAST(schema, definition.type as never));
  for (let type = pending.pop(); type; type = pending.pop()) {
    for (const field of Object.values(type.getFields())) {
      if (field.defaultValue !== undefined && (isNonNullType(field.type) || !survivesJson(field.defaultValue))) return false;
      visit(field.type);
    }
  }
  return true;
}

/** Whether `JSON.parse(JSON.stringify(value))` gives the same value back (no Date, no bigint…). */
function survivesJson(value: unknown): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(survivesJson);
  if (typeof value !== 'object') return false;
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== null && prototype !== Object.prototype) return false;
  return Object.values(value).every(survivesJson);
}

/**
 * graphql-jit's errors are GraphQLErrors by prototype only: their `extensions` may be undefined,
 * which Apollo's error formatting does not expect (it reads `extensions.code` and, failing,
 * answers a bare internal error). Rebuild them as graphql-js errors, keeping what clients see.
 */
function asGraphQLJsError(error: GraphQLError): GraphQLError {
  const rebuilt = new GraphQLError(error.message, {
    path: error.path,
    originalError: error.originalError ?? undefined,
    extensions: error.extensions ?? {},
  });
  // Without the document's nodes the constructor cannot work the locations out again.
  return Object.assign(rebuilt, { locations: error.locations });
}
