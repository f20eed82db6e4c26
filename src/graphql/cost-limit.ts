import {
  getNamedType,
  getNullableType,
  GraphQLError,
  isCompositeType,
  isInterfaceType,
  isListType,
  isObjectType,
  Kind,
  SchemaMetaFieldDef,
  TypeMetaFieldDef,
  type ASTVisitor,
  type FieldNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';

/** How an operation's cost is counted; see {@link operationCost}. */
export interface CostLimitOptions {
  /** Highest cost an operation may have. */
  readonly maxCost: number;
  /** Page size of a connection whose `first` is omitted (the resolver's default). */
  readonly defaultPageSize: number;
  /** Page size charged for `first` given as a variable, and the most a literal is charged. */
  readonly maxPageSize: number;
  /** Entries assumed in a list of objects that has no `first` (a ticket's replies, its history). */
  readonly listSize: number;
}

/** Never let a product of page sizes leave the range where numbers are exact. */
const clamp = (cost: number): number => Math.min(cost, Number.MAX_SAFE_INTEGER);

/**
 * Roughly the number of values the worst-case answer holds, known before anything runs:
 *
 * - a scalar or enum field (a list of them included) costs 1; `__typename` is free;
 * - an object field costs 1 plus the cost of what is selected in it;
 * - a list of objects costs that many times its entries: a connection's `edges` as many as its
 *   page size (`first`: the literal, clamped to `maxPageSize`; `maxPageSize` when it is a variable,
 *   because validation runs once per document whatever the variables; `defaultPageSize` when
 *   omitted), any other list `listSize`.
 *
 * Fragments count where they are spread. Introspection is counted like the rest, so a nested
 * `__schema { types { fields { type { fields … } } } }` is as bounded as a nested ticket query.
 */
export function operationCost(schema: GraphQLSchema, operation: OperationDefinitionNode, fragments: FragmentLookup, options: CostLimitOptions): number {
  return new CostCounter(schema, fragments, options).selectionSet(operation.selectionSet, schema.getRootType(operation.operation) ?? undefined);
}

/** Finds a fragment definition by name (ValidationContext.getFragment). */
export type FragmentLookup = (
  name: string,
) => { readonly typeCondition: { readonly name: { readonly value: string } }; readonly selectionSet: SelectionSetNode } | null | undefined;

class CostCounter {
  /** Cost of each fragment by name and the page size it was spread under. */
  private readonly fragmentCosts = new Map<string, number>();
  /** Fragments being counted: a cycle (refused by NoFragmentCyclesRule anyway) counts once. */
  private readonly counting = new Set<string>();

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly fragments: FragmentLookup,
    private readonly options: CostLimitOptions,
  ) {}

  /** @param pageSize for the list fields directly in this set: set when it is a connection's. */
  selectionSet(set: SelectionSetNode, type: GraphQLCompositeType | undefined, pageSize?: number): number {
    let cost = 0;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        cost += this.field(selection, type, pageSize);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const condition = selection.typeCondition ? this.compositeType(selection.typeCondition.name.value) : type;
        cost += this.selectionSet(selection.selectionSet, condition, pageSize);
      } else {
        cost += this.fragmentSpread(selection.name.value, pageSize);
      }
    }
    return clamp(cost);
  }

  private fragmentSpread(name: string, pageSize: number | undefined): number {
    const key = `${name}\u0000${pageSize ?? ''}`;
    const known = this.fragmentCosts.get(key);
    if (known !== undefined) return known;
    const fragment = this.fragments(name);
    if (!fragment || this.counting.has(key)) return 0;
    this.counting.add(key);
    const cost = this.selectionSet(fragment.selectionSet, this.compositeType(fragment.typeCondition.name.value), pageSize);
    this.counting.delete(key);
    this.fragmentCosts.set(key, cost);
    return cost;
  }

  private field(node: FieldNode, parent: GraphQLCompositeType | undefined, pageSize: number | undefined): number {
    const name = node.name.value;
    if (name === '__typename') return 0;
    if (!node.selectionSet) return 1;
    const definition = this.definition(parent, name);
    if (!definition) {
      // An unknown field (refused by another rule): count what it asks for, without multipliers.
      return clamp(1 + this.selectionSet(node.selectionSet, undefined));
    }
    const named = getNamedType(definition.type);
    const inner = 1 + this.selectionSet(node.selectionSet, isCompositeType(named) ? named : undefined, this.pageSizeOf(node, definition));
    const entries = isListType(getNullableType(definition.type)) ? (pageSize ?? this.options.listSize) : 1;
    return clamp(inner * entries);
  }

  /**
   * The page size a connection field asks for; undefined when the field takes no `first`. A
   * connection that also pages backwards (`last`) is charged the larger of the two.
   */
  private pageSizeOf(node: FieldNode, definition: GraphQLField<unknown, unknown>): number | undefined {
    const parameter = definition.args.find((arg) => arg.name === 'first');
    if (!parameter) return undefined;
    const { defaultPageSize, maxPageSize } = this.options;
    const sizeOf = (name: string): number | undefined => {
      const value = node.arguments?.find((arg) => arg.name.value === name)?.value;
      if (!value || value.kind === Kind.NULL) return undefined;
      if (value.kind === Kind.INT) return Math.max(1, Math.min(Number(value.value), maxPageSize));
      // A variable: validation cannot see its value, so the largest page the resolver allows.
      return maxPageSize;
    };
    const first = sizeOf('first');
    const last = definition.args.some((arg) => arg.name === 'last') ? sizeOf('last') : undefined;
    if (first === undefined && last === undefined) {
      return typeof parameter.defaultValue === 'number' ? parameter.defaultValue : defaultPageSize;
    }
    return Math.max(first ?? 0, last ?? 0);
  }

  private definition(parent: GraphQLCompositeType | undefined, name: string): GraphQLField<unknown, unknown> | undefined {
    if (parent === this.schema.getQueryType()) {
      if (name === SchemaMetaFieldDef.name) return SchemaMetaFieldDef;
      if (name === TypeMetaFieldDef.name) return TypeMetaFieldDef;
    }
    if (parent && (isObjectType(parent) || isInterfaceType(parent))) return parent.getFields()[name];
    return undefined;
  }

  private compositeType(name: string): GraphQLCompositeType | undefined {
    const type = this.schema.getType(name);
    return type && isCompositeType(type) ? type : undefined;
  }
}

/**
 * A validation rule that refuses every operation of a document whose {@link operationCost} is
 * above `maxCost`, with a message naming the limit (Apollo answers GRAPHQL_VALIDATION_FAILED).
 *
 * graphql-armor has a cost limit too, but it multiplies only by a literal `first`, knows nothing
 * of a default page size or a variable one, and grows costs by depth rather than by what a list
 * holds; this rule charges a connection for its page.
 */
export function costLimitRule(options: CostLimitOptions): ValidationRule {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(operation) {
      const cost = operationCost(context.getSchema(), operation, (name) => context.getFragment(name), options);
      if (cost > options.maxCost) {
        const shown = cost >= Number.MAX_SAFE_INTEGER ? `more than ${Number.MAX_SAFE_INTEGER}` : String(cost);
        context.reportError(
          new GraphQLError(
            `Query cost limit of ${options.maxCost} exceeded: this operation costs ${shown}. ` + 'Ask for smaller pages (first) or fewer nested fields.',
            { nodes: [operation] },
          ),
        );
      }
      return false;
    },
  });
}
