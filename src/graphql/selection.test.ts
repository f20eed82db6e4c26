import { Kind, parse, type FieldNode, type FragmentDefinitionNode, type OperationDefinitionNode } from 'graphql';
import { expandedFieldCount, selectedFields } from './selection';

/** `levels` fragments on Ticket, each spreading the next twice; the last selects `leaf`. */
function chainDocument(root: string, levels: number, leaf: string): string {
  const lines = [root];
  for (let level = 0; level < levels; level++) lines.push(`fragment F${level} on Ticket { ...F${level + 1} ...F${level + 1} }`);
  lines.push(`fragment F${levels} on Ticket { ${leaf} }`);
  return lines.join('\n');
}

/** What a resolver's info holds for the first root field of `source`, with fragment reads counted. */
function infoFor(source: string): { info: { fieldNodes: FieldNode[]; fragments: Record<string, FragmentDefinitionNode> }; reads: Map<string, number> } {
  const document = parse(source);
  const operation = document.definitions.find((definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION)!;
  const reads = new Map<string, number>();
  const definitions: Record<string, FragmentDefinitionNode> = {};
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) definitions[definition.name.value] = definition;
  }
  const fragments = new Proxy(definitions, {
    get(target, name) {
      if (typeof name === 'string') reads.set(name, (reads.get(name) ?? 0) + 1);
      return Reflect.get(target, name);
    },
  });
  return { info: { fieldNodes: [operation.selectionSet.selections[0] as FieldNode], fragments }, reads };
}

describe('selectedFields', () => {
  it('follows the path through fields, inline fragments and spreads', () => {
    const { info } = infoFor(`{ tickets { edges { node { id ... on Ticket { replies { id } } ...More } } } }
      fragment More on Ticket { history { at } ...Status }
      fragment Status on Ticket { status }`);
    expect(selectedFields(info, ['edges', 'node'])).toEqual(new Set(['id', 'replies', 'history', 'status']));
    expect(selectedFields(info, ['edges'])).toEqual(new Set(['node']));
    expect(selectedFields(info, ['nothing'])).toEqual(new Set());
  });

  it('walks the selection once per field nodes and path (graphql-jit reuses the nodes for every execution)', () => {
    const { info, reads } = infoFor(`{ ticket(id: "1") { id ...More } }
      fragment More on Ticket { history { at } }`);
    const first = selectedFields(info);
    expect(first).toEqual(new Set(['id', 'history']));
    expect(selectedFields({ ...info }, [])).toBe(first);
    expect(reads.get('More')).toBe(1);
    // Another path below the same nodes is its own answer; other nodes (graphql-js builds new ones) walk again.
    expect(selectedFields(info, ['history'])).toEqual(new Set(['at']));
    expect(selectedFields({ ...info, fieldNodes: [...info.fieldNodes] })).toEqual(first);
    expect(reads.get('More')).toBe(3);
  });

  it('merges fields of the same name reached through several spreads', () => {
    const { info } = infoFor(`{ tickets { ...A ...B } }
      fragment A on TicketConnection { edges { node { id } } }
      fragment B on TicketConnection { edges { node { replies { id } } } }`);
    expect(selectedFields(info, ['edges', 'node'])).toEqual(new Set(['id', 'replies']));
  });

  it('reads each fragment once per level, however often it is spread (30 levels, 2^30 copies)', () => {
    const { info, reads } = infoFor(chainDocument('{ ticket(id: 1) { id ...F0 } }', 30, 'replies { id } __typename'));
    expect(selectedFields(info)).toEqual(new Set(['id', 'replies', '__typename']));
    expect(Math.max(...reads.values())).toBe(1);
    expect(reads.size).toBe(31);
  });

  it('reads each fragment once per level under a path too', () => {
    const { info, reads } = infoFor(chainDocument('{ tickets { edges { node { ...F0 } } } }', 30, 'history { at }').replace(/on Ticket/g, 'on X'));
    expect(selectedFields(info, ['edges', 'node'])).toEqual(new Set(['history']));
    expect(Math.max(...reads.values())).toBe(1);
  });

  it('survives a fragment cycle (refused by validation before any resolver runs)', () => {
    const { info } = infoFor(`{ ticket(id: 1) { ...A } } fragment A on Ticket { id ...B } fragment B on Ticket { status ...A }`);
    expect(selectedFields(info)).toEqual(new Set(['id', 'status']));
  });

  it('walks a chain of 10,000 fragments without overflowing the stack', () => {
    const lines = ['{ ticket(id: 1) { ...F0 } }'];
    for (let level = 0; level < 10_000; level++) lines.push(`fragment F${level} on Ticket { ...F${level + 1} }`);
    lines.push('fragment F10000 on Ticket { id }');
    expect(selectedFields(infoFor(lines.join('\n')).info)).toEqual(new Set(['id']));
  });
});

describe('expandedFieldCount', () => {
  const count = (source: string, limit = 1_000_000) => {
    const document = parse(source);
    const operation = document.definitions.find((definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION)!;
    return expandedFieldCount(document, operation, limit);
  };

  it('counts every field node with spreads expanded', () => {
    expect(count('{ me { id username } }')).toBe(3);
    expect(count('{ me { ...U ...U } } fragment U on User { id username }')).toBe(5);
    expect(count('{ a: me { ...U } b: me { ... on User { ...U } } } fragment U on User { id }')).toBe(4);
  });

  it('counts 2^levels for fragments that each spread the next twice, clamped above the limit', () => {
    expect(count(chainDocument('{ ticket(id: 1) { ...F0 } }', 10, 'id'))).toBe(1 + 2 ** 10);
    expect(count(chainDocument('{ ticket(id: 1) { ...F0 } }', 60, 'id'), 5_000)).toBe(5_001);
  });

  it('counts a cycle once (validation refuses it)', () => {
    expect(count('{ me { ...A } } fragment A on User { id ...B } fragment B on User { username ...A }')).toBe(3);
  });
});
