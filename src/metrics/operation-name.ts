/**
 * GraphQL operation names are chosen by clients: used as labels as they come, any client could
 * create a time series per request and exhaust the metrics' memory (and Prometheus's). A name is
 * used as a label only if it looks like an identifier a developer wrote (a GraphQL name of at most
 * {@link MAX_OPERATION_NAME_LENGTH} characters) and it is among the first `limit` distinct names
 * this process has seen; every other one is counted as "other", an operation without a name as
 * "anonymous". Known names stay known for the life of the process. The caller labels requests
 * that never resolved to an operation "unresolved" without asking (their names earn no slot).
 */
export const MAX_OPERATION_NAME_LENGTH = 64;
export const DEFAULT_OPERATION_NAME_LIMIT = 100;
export const OTHER_OPERATION = 'other';
export const ANONYMOUS_OPERATION = 'anonymous';
/** The label of a request whose document did not parse, validate or name one operation. */
export const UNRESOLVED_OPERATION = 'unresolved';

const GRAPHQL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class OperationNameLabels {
  private readonly known = new Set<string>();

  constructor(private readonly limit: number = DEFAULT_OPERATION_NAME_LIMIT) {
    if (!Number.isInteger(limit) || limit < 0) throw new RangeError('limit must be a non-negative integer');
  }

  /** The label for an operation named `name` (undefined or empty: anonymous). */
  labelFor(name: string | null | undefined): string {
    if (name === undefined || name === null || name === '') return ANONYMOUS_OPERATION;
    if (name.length > MAX_OPERATION_NAME_LENGTH || !GRAPHQL_NAME.test(name)) return OTHER_OPERATION;
    // The two reserved labels stay unambiguous.
    if (name === OTHER_OPERATION || name === ANONYMOUS_OPERATION || name === UNRESOLVED_OPERATION) return OTHER_OPERATION;
    if (this.known.has(name)) return name;
    if (this.known.size >= this.limit) return OTHER_OPERATION;
    this.known.add(name);
    return name;
  }

  /** Distinct names labelled so far. */
  get size(): number {
    return this.known.size;
  }
}

const ERROR_CODE = /^[A-Z][A-Z0-9_]{0,39}$/;

/** The outcome label of a GraphQL response: "ok", or the first error's `extensions.code` (server-chosen, still checked). */
export function outcomeOf(errors: ReadonlyArray<{ extensions?: Record<string, unknown> }> | undefined): string {
  if (!errors || errors.length === 0) return 'ok';
  const code = errors[0]?.extensions?.code;
  return typeof code === 'string' && ERROR_CODE.test(code) ? code : 'UNKNOWN';
}
