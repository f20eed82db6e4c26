import type { ApolloServerPlugin } from '@apollo/server';
import type { Metrics } from './metrics';

/**
 * Counts each GraphQL operation over HTTP by name, type and outcome, with its duration. Runs after
 * `formatError`, so the outcome is the error code the client received.
 */
export function graphqlMetricsPlugin(metrics: Metrics): ApolloServerPlugin {
  return {
    async requestDidStart() {
      const started = process.hrtime.bigint();
      return {
        async willSendResponse({ response, operation, operationName }) {
          const errors = response.body.kind === 'single' ? response.body.singleResult.errors : undefined;
          // `operation` is set only once the document parsed, validated and named one operation.
          metrics.graphqlOperation(operationName, operation?.operation, errors, Number(process.hrtime.bigint() - started) / 1e9);
        },
      };
    },
  };
}
