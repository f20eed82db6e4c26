import { Field, ObjectType, type ClassType } from 'type-graphql';

/*
 * Relay connections (tickets, users, the event log) share their paging types: one PageInfo, and
 * per node type an edge and the connection's `edges` and `pageInfo` fields, made by
 * `ConnectionType` (type-graphql's generic-type pattern: a class factory returning an abstract
 * object type that the named connection extends).
 */

@ObjectType('PageInfo', { simpleResolvers: true, description: 'Relay connection paging.' })
export class PageInfoType {
  @Field({ description: 'More edges follow endCursor (paging forwards with first; false when paging with last).' })
  hasNextPage!: boolean;

  @Field({ description: 'More edges precede startCursor (paging backwards with last; false when paging with first).' })
  hasPreviousPage!: boolean;

  @Field(() => String, { nullable: true })
  startCursor!: string | null;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

/** One node of a connection page and the cursor that pages on from it. */
export interface Edge<TNode> {
  cursor: string;
  node: TNode;
}

/**
 * The base class of a connection of `Node`: its `edges` (of a new object type `<name>Edge`) and
 * its `pageInfo`. The connection itself is declared as
 * `@ObjectType('<name>Connection', …) class … extends ConnectionType('<name>', Node)`, which
 * names and describes it and may add fields of its own (`totalCount`, by a field resolver).
 */
export function ConnectionType<TNode extends object>(name: string, Node: ClassType<TNode>) {
  @ObjectType(`${name}Edge`, { simpleResolvers: true })
  class EdgeType implements Edge<TNode> {
    @Field()
    cursor!: string;

    @Field(() => Node)
    node!: TNode;
  }

  // Not in the schema by itself: type-graphql emits only the object types a schema field reaches.
  @ObjectType({ simpleResolvers: true })
  abstract class Connection {
    @Field(() => [EdgeType])
    edges!: Edge<TNode>[];

    @Field(() => PageInfoType)
    pageInfo!: PageInfoType;
  }
  return Connection;
}
