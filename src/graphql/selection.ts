import {
  Kind,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLResolveInfo,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';

/**
 * Names of the fields selected below the resolved field, following `path` (e.g. ['edges',
 * 'node']) through inline fragments and fragment spreads. Lets a list resolver aggregate
 * replies or history in SQL only when the query asks for them.
 *
 * Each fragment definition is visited at most once per level of `path`, however often it is
 * spread: a document whose fragments each spread the next one twice would otherwise be walked
 * 2^depth times (test/security/fragment-explosion.test.ts). Skipping a fragment already visited
 * loses nothing: its fields are already collected, and only their names and selection sets count.
 */
export function selectedFields(info: Pick<GraphQLResolveInfo, 'fieldNodes' | 'fragments'>, path: readonly string[] = []): ReadonlySet<string> {
  let byPath = selections.get(info.fieldNodes);
  if (!byPath) selections.set(info.fieldNodes, (byPath = new Map()));
  const key = path.join('\0');
  let fields = byPath.get(key);
  if (!fields) byPath.set(key, (fields = collectSelectedFields(info, path)));
  return fields;
}

/**
 * {@link selectedFields} by the resolved field's nodes and the path below them. The answer
 * depends on nothing else (field names only: `@skip`/`@include` are not read, so variables do
 * not change it; the fragments are those of the nodes' own document). graphql-jit hands every
 * execution of a compiled document the same `fieldNodes` array, so a mutation or query answered
 * by a compiled document walks its selection once, not once per request (≈ 1% of a write's CPU,
 * docs/performance.md, "Fourth round"); graphql-js builds new arrays per execution, whose
 * entries go with them.
 */
const selections = new WeakMap<readonly FieldNode[], Map<string, ReadonlySet<string>>>();

function collectSelectedFields(info: Pick<GraphQLResolveInfo, 'fieldNodes' | 'fragments'>, path: readonly string[]): ReadonlySet<string> {
  let sets: SelectionSetNode[] = info.fieldNodes.flatMap((node) => (node.selectionSet ? [node.selectionSet] : []));
  for (const name of path) {
    sets = fieldsOf(sets, info.fragments)
      .filter((field) => field.name.value === name)
      .flatMap((field) => (field.selectionSet ? [field.selectionSet] : []));
  }
  return new Set(fieldsOf(sets, info.fragments).map((field) => field.name.value));
}

/** The fields directly in `sets`, through fragments, each fragment visited once for all of them. */
function fieldsOf(sets: readonly SelectionSetNode[], fragments: Readonly<Record<string, FragmentDefinitionNode>>): FieldNode[] {
  const fields: FieldNode[] = [];
  const visited = new Set<string>();
  // An explicit stack: a long chain of fragments must not grow the call stack either.
  const stack: SelectionSetNode[] = [...sets].reverse();
  for (let set = stack.pop(); set !== undefined; set = stack.pop()) {
    // Pushed in reverse so that fields come out in document order.
    for (let index = set.selections.length - 1; index >= 0; index--) {
      const selection = set.selections[index]!;
      if (selection.kind === Kind.FIELD) {
        fields.push(selection);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        stack.push(selection.selectionSet);
      } else if (!visited.has(selection.name.value)) {
        visited.add(selection.name.value);
        const fragment = fragments[selection.name.value];
        if (fragment) stack.push(fragment.selectionSet);
      }
    }
  }
  return fields;
}

/**
 * How many field nodes `operation` holds once every fragment spread is replaced by its
 * definition, as a walk that does not skip repeated spreads sees it; clamped at `limit + 1`, and
 * computed once per fragment, so it costs a walk of the document itself whatever the answer.
 *
 * A document without repeated spreads expands to no more fields than it has tokens; fragments
 * that each spread the next one twice expand to 2^depth. Libraries that walk the expanded tree
 * (graphql-jit's compiler) are kept away from documents above a bound (jit-executor.ts).
 */
export function expandedFieldCount(document: DocumentNode, operation: OperationDefinitionNode, limit: number): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const counted = new Map<string, number>();
  const counting = new Set<string>();
  const cap = limit + 1;
  const count = (set: SelectionSetNode): number => {
    let total = 0;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) total += 1 + (selection.selectionSet ? count(selection.selectionSet) : 0);
      else if (selection.kind === Kind.INLINE_FRAGMENT) total += count(selection.selectionSet);
      else total += spread(selection.name.value);
      if (total >= cap) return cap;
    }
    return total;
  };
  const spread = (name: string): number => {
    const known = counted.get(name);
    if (known !== undefined) return known;
    const fragment = fragments.get(name);
    // A cycle is refused by validation (NoFragmentCyclesRule); here it counts nothing more.
    if (!fragment || counting.has(name)) return 0;
    counting.add(name);
    const total = count(fragment.selectionSet);
    counting.delete(name);
    counted.set(name, total);
    return total;
  };
  return count(operation.selectionSet);
}
