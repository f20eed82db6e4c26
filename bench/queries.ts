/**
 * The GraphQL documents the benchmark sends. The list page is what a dashboard loads all day:
 * 50 newest tickets with their users, replies, history and the viewer's permission flags.
 * `bound-sql.ts` builds the very same JSON in one SQL statement; the benchmark checks that the
 * two answers are equal before it measures anything.
 */

const USER = 'id username roles';

export const TICKET_FIELDS = `
  id status content images
  customer { ${USER} } scheduler { ${USER} } staff { ${USER} }
  createdAt updatedAt
  replies { id content author { ${USER} } createdAt }
  history { id status actor { ${USER} } at }
  permissions { reply edit assign startProcessing requestInformation fix close reopen cancel }`;

export const PAGE_SIZE = 50;

export const LIST_PAGE = `query ListPage {
  tickets(first: ${PAGE_SIZE}) {
    edges { cursor node { ${TICKET_FIELDS} } }
    pageInfo { hasNextPage endCursor }
  }
}`;

export const DETAIL = `query Detail($id: ID!) { ticket(id: $id) { ${TICKET_FIELDS} } }`;

const AFTER_TRANSITION = 'id status updatedAt permissions { reply edit assign startProcessing requestInformation fix close reopen cancel }';

export const REQUEST_INFORMATION = `mutation RequestInformation($id: ID!) { requestInformation(id: $id) { ${AFTER_TRANSITION} } }`;
export const START_PROCESSING = `mutation StartProcessing($id: ID!) { startProcessing(id: $id) { ${AFTER_TRANSITION} } }`;

export const ADD_REPLY = `mutation AddReply($ticketId: ID!, $content: String!) {
  addReply(ticketId: $ticketId, content: $content) { id content author { ${USER} } createdAt }
}`;

/** Statuses of many tickets in one request, to know which transition each accepts next. */
export const statusesQuery = (ids: readonly string[]): string =>
  `query Statuses { ${ids.map((id, i) => `t${i}: ticket(id: "${id}") { id status }`).join(' ')} }`;

/** The smallest authenticated request: the viewer's id (cached after the first request, so no statement). */
export const ME = 'query Me { me { id } }';

/** A GraphQL request body. */
export const graphqlBody = (query: string, variables?: Record<string, unknown>): string => JSON.stringify(variables ? { query, variables } : { query });

/** The fields of the finding targets' tickets (issue 12): a dashboard row, not the full ticket. */
const ROW = `id status content createdAt updatedAt customer { id username } staff { id username }`;

/** A dispatcher's view: one staff member's open tickets, oldest first. */
export const filteredPage = (staffId: number): string => `query Filtered {
  tickets(first: ${PAGE_SIZE}, orderBy: { field: CREATED_AT, direction: ASC },
          filter: { status: [ASSIGNED, IN_PROCESSING, REQUEST_INFORMATION], staffId: "${staffId}" }) {
    edges { cursor node { ${ROW} } }
    pageInfo { hasNextPage endCursor }
  }
}`;

export const SEARCH_TERM = '打印机';
/**
 * A two-character term (a common Chinese word, "print"): shorter than a trigram, so no index
 * serves it and the search filters every ticket and reply (docs/finding.md "Terms of two characters").
 */
export const SHORT_SEARCH_TERM = '打印';
export const SEARCH_PAGE_SIZE = 20;

/** Every ticket that mentions the term in its content or a reply, newest first. */
export const searchPage = (term: string): string => `query Search {
  tickets(first: ${SEARCH_PAGE_SIZE}, filter: { search: "${term}" }) {
    edges { cursor node { ${ROW} } }
    pageInfo { hasNextPage endCursor }
  }
}`;

/** The dashboard's counts over every ticket. */
export const STATS = `query Stats {
  ticketStats { total byStatus { status count } byStaff { staff { id username } count } }
}`;
