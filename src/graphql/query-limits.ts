import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import type { GraphQLArmorRejectCallback } from '@escape.tech/graphql-armor-types';
import { GraphQLError, NoSchemaIntrospectionCustomRule, type ParseOptions, type ValidationRule } from 'graphql';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../modules/ticket/ticket-page';
import { costLimitRule, type CostLimitOptions } from './cost-limit';

/**
 * The bounds every GraphQL document is checked against, over HTTP and over graphql-ws alike,
 * before anything runs. Each is well above what a real client sends (docs/hardening.md,
 * "Abuse limits", has the figures).
 */
export const GRAPHQL_LIMITS = {
  /**
   * Nesting of fields, fragments flattened. The deepest real query is 6
   * (`tickets { edges { node { replies { author { id } } } } }`); the schema has no cycles, so
   * this mostly bounds `__type` introspection.
   */
  maxDepth: 8,
  /** Aliased fields per operation (`__typename` is free): batching ten ticket reads takes ten. */
  maxAliases: 20,
  /** Directives per operation, repeated ones counted each time. */
  maxDirectives: 20,
  /** Lexical tokens per document; refused while parsing, before any tree is built. */
  maxTokens: 1_000,
  /**
   * Cost per operation (cost-limit.ts). A page of 100 tickets with everything costs 19,104, the
   * standard introspection query 50,890: both pass, three such pages in one request too, not four.
   */
  maxCost: 60_000,
  /** Entries the cost assumes for a list without `first`: a ticket's replies, its history. */
  listSize: 10,
} as const;

export const COST_OPTIONS: CostLimitOptions = {
  maxCost: GRAPHQL_LIMITS.maxCost,
  defaultPageSize: DEFAULT_PAGE_SIZE,
  maxPageSize: MAX_PAGE_SIZE,
  listSize: GRAPHQL_LIMITS.listSize,
};

/**
 * armor reports "Syntax Error: Query depth limit of 8 exceeded, found 9." through Apollo's
 * context by default; the refusal is a validation error, not a syntax error, so it is reported
 * without the prefix.
 */
const report: GraphQLArmorRejectCallback = (context, error) => {
  context?.reportError(new GraphQLError(error.message.replace(/^Syntax Error: /, '')));
};

function armorRules(): ValidationRule[] {
  const onRejection = { onReject: [report], propagateOnRejection: false, exposeLimits: true };
  return new ApolloArmor({
    maxDepth: { n: GRAPHQL_LIMITS.maxDepth, flattenFragments: true, ...onRejection },
    maxAliases: { n: GRAPHQL_LIMITS.maxAliases, ...onRejection },
    maxDirectives: { n: GRAPHQL_LIMITS.maxDirectives, ...onRejection },
    // Ours instead: armor's multiplies only by a literal `first` (see cost-limit.ts).
    costLimit: { enabled: false },
    // graphql's own parser counts tokens (PARSE_OPTIONS), over HTTP and graphql-ws alike.
    maxTokens: { enabled: false },
    // Apollo's hideSchemaDetailsFromClientErrors, and hideSuggestions for graphql-ws.
    blockFieldSuggestion: { enabled: false },
  }).protect().validationRules;
}

/** Options of graphql's `parse`: the token limit. */
export const PARSE_OPTIONS: ParseOptions = { maxTokens: GRAPHQL_LIMITS.maxTokens };

/** What each transport needs to apply the same limits. */
export interface GraphQLValidation {
  /** Depth, aliases, directives, cost; without introspection when it is disabled. */
  readonly rules: readonly ValidationRule[];
  /** The same without the introspection rule, for Apollo, which adds its own from `introspection`. */
  readonly limitRules: readonly ValidationRule[];
  readonly parseOptions: ParseOptions;
  readonly introspection: boolean;
  /** Rewrites a refusal's message: token limit in plain words, suggestions gone when the schema is private. */
  message(message: string): string;
}

const TOKEN_LIMIT_MESSAGE = /Document contains more th(?:at|an) (\d+) tokens\. Parsing aborted\./;
const SUGGESTION = / ?Did you mean(.+?)\?$/;

/**
 * The validation both transports share. With introspection off, field suggestions ("Did you mean
 * …?") are dropped too: they would leak the schema that introspection hides.
 */
export function graphQLValidation(options: { introspection: boolean }): GraphQLValidation {
  const limitRules = [...armorRules(), costLimitRule(COST_OPTIONS)];
  const hideSuggestions = !options.introspection;
  return {
    limitRules,
    rules: options.introspection ? limitRules : [...limitRules, NoSchemaIntrospectionCustomRule],
    parseOptions: PARSE_OPTIONS,
    introspection: options.introspection,
    message(message) {
      const tokens = TOKEN_LIMIT_MESSAGE.exec(message);
      if (tokens) return `Syntax Error: Token limit of ${tokens[1]} exceeded: the document is too long.`;
      return hideSuggestions ? message.replace(SUGGESTION, '') : message;
    },
  };
}

/** The validation the configuration asks for (introspection on unless GRAPHQL_INTROSPECTION says no). */
export function graphQLValidationFor(config: { readonly graphqlIntrospection?: boolean }): GraphQLValidation {
  return graphQLValidation({ introspection: config.graphqlIntrospection ?? true });
}

/**
 * An Apollo plugin that states the token limit in plain words (graphql says "more that N
 * tokens"); suggestions are Apollo's own business (`hideSchemaDetailsFromClientErrors`).
 */
export function limitMessagesPlugin(validation: GraphQLValidation): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors }) {
          for (const error of errors) {
            if (TOKEN_LIMIT_MESSAGE.test(error.message)) error.message = validation.message(error.message);
          }
        },
      };
    },
  };
}
