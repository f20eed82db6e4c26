import type { GatewayExecutor, GatewayInterface } from '@apollo/server-gateway-interface';
import { execute, GraphQLError, printSchema, type DocumentNode, type GraphQLSchema } from 'graphql';
import { getVariableValues } from 'graphql/execution/values';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';

/**
 * Executes queries and mutations with graphql-jit: each document is compiled once into a
 * JavaScript function specialised to its selection, then run for every request with that
 * document. On the list page (50 tickets with replies, history, users and flags) execution was
 * the largest share of the server's CPU after JSON serialisation (docs/performance.md).
 *
 * Apollo accepts a custom executor only through its gateway interface; this "gateway" serves the
 * one local schema and never changes it. Parsing, validation (including our limits), context,
 * error formatting and plugins stay Apollo's. Subscriptions and anything graphql-jit declines to
 * compile, and requests whose variables do not coerce, run on graphql-js's `execute`.
 */
export function jitGateway(schema: GraphQLSchema): GatewayInterface {
  // Apollo keeps one DocumentNode per distinct query in its bounded document store, so a weak
  // map keyed by document is bounded by that store and needs no eviction of its own.
  const compiled = new WeakMap<DocumentNode, Map<string, CompiledQuery | null>>();

  const compile = (document: DocumentNode, operationName: string | null): CompiledQuery | null => {
    let byOperation = compiled.get(document);
    if (!byOperation) compiled.set(document, (byOperation = new Map()));
    const key = operationName ?? '';
    let query = byOperation.get(key);
    if (query === undefined) {
      const result = compileQuery(schema, document, operationName ?? undefined);
      query = isCompiledQuery(result) ? result : null;
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
    const query = !operation || operation.operation === 'subscription' ? null : compile(document, operationName);
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
