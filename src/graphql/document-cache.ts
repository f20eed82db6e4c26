import { GraphQLError, parse, specifiedRules, validate, type DocumentNode, type GraphQLSchema } from 'graphql';
import type { GraphQLValidation } from './query-limits';

/** Longest query text whose parsed document is kept for reuse. */
const MAX_CACHED_QUERY_LENGTH = 8 * 1024;
const MAX_CACHED_DOCUMENTS = 500;

/**
 * Parsed and validated documents by query text. Thousands of dashboards send the same
 * subscription; parsing it once instead of per subscription saves parse + validate and, above
 * all, memory: a live subscription keeps its document for as long as it lives, so identical
 * queries now share one. Least recently used entries go first.
 */
export class DocumentCache {
  private readonly documents = new Map<string, DocumentNode>();
  private readonly rules;

  constructor(private readonly validation: GraphQLValidation) {
    this.rules = [...specifiedRules, ...validation.rules];
  }

  /** The document, or the errors graphql-ws sends back as an `error` message for this operation. */
  get(schema: GraphQLSchema, query: string): DocumentNode | GraphQLError[] {
    const cached = this.documents.get(query);
    if (cached) {
      this.documents.delete(query);
      this.documents.set(query, cached);
      return cached;
    }
    let document: DocumentNode;
    try {
      document = parse(query, this.validation.parseOptions);
    } catch (error) {
      // graphql-ws would let a syntax error escape as an internal error that closes the whole
      // socket (4500): refuse just this operation, as Apollo does on HTTP.
      if (!(error instanceof GraphQLError)) throw error;
      const message = this.validation.message(error.message);
      return [new GraphQLError(message, { source: error.source, positions: error.positions, extensions: { code: 'GRAPHQL_PARSE_FAILED' } })];
    }
    const errors = validate(schema, document, this.rules);
    if (errors.length) {
      for (const error of errors) error.message = this.validation.message(error.message);
      return [...errors];
    }
    if (query.length <= MAX_CACHED_QUERY_LENGTH) {
      this.documents.set(query, document);
      if (this.documents.size > MAX_CACHED_DOCUMENTS) this.documents.delete(this.documents.keys().next().value as string);
    }
    return document;
  }
}
