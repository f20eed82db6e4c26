import { preparedWriteText } from '../../src/db/write-transaction';

/** A message as the ORM's query log shows it, whitespace collapsed (and the logger's `[query] ` label dropped). */
export const normalized = (sql: string): string =>
  sql
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^\[query\] /, '');

/**
 * A message of the write path (db/write-transaction.ts) as the statements it runs: its PREPARE
 * (sent with a statement's first use on a connection) dropped, and each `execute hw_…(…)`
 * replaced by the text of the statement that name was prepared as.
 */
export function expandPrepared(message: string): string {
  return normalized(message)
    .replace(/^prepare (hw_\w+) as .*?;\s*(?=begin;|execute hw_)/, '')
    .replace(/\bexecute (hw_\w+)(\((?:'(?:[^']|'')*'|[^()'])*\))?/g, (_, name: string) => normalized(preparedWriteText(name) ?? `unknown ${name}`));
}
