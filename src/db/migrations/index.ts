import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261128000000_initial } from './Migration20261128000000_initial';
import { Migration20261201000000_ticket_events } from './Migration20261201000000_ticket_events';
import { Migration20261202000000_idempotency_keys } from './Migration20261202000000_idempotency_keys';
import { Migration20261203050000_login_throttle } from './Migration20261203050000_login_throttle';
import { Migration20261203100000_reply_erasure } from './Migration20261203100000_reply_erasure';
import { Migration20261204000000_people } from './Migration20261204000000_people';
import { Migration20261205000000_ticket_finding } from './Migration20261205000000_ticket_finding';
import { Migration20261206000000_rate_limit_budget } from './Migration20261206000000_rate_limit_budget';
import { Migration20261207000000_search_bigrams } from './Migration20261207000000_search_bigrams';
import { Migration20261208000000_reply_count } from './Migration20261208000000_reply_count';
import { Migration20261209000000_viewer_page_indexes } from './Migration20261209000000_viewer_page_indexes';

/**
 * Every migration, in order. Listed explicitly rather than globbed from disk so the same list
 * works from TypeScript sources (tests) and compiled output (production).
 */
export const MIGRATIONS: MigrationObject[] = [
  { name: 'Migration20261128000000_initial', class: Migration20261128000000_initial },
  { name: 'Migration20261201000000_ticket_events', class: Migration20261201000000_ticket_events },
  { name: 'Migration20261202000000_idempotency_keys', class: Migration20261202000000_idempotency_keys },
  { name: 'Migration20261203050000_login_throttle', class: Migration20261203050000_login_throttle },
  { name: 'Migration20261203100000_reply_erasure', class: Migration20261203100000_reply_erasure },
  { name: 'Migration20261204000000_people', class: Migration20261204000000_people },
  { name: 'Migration20261205000000_ticket_finding', class: Migration20261205000000_ticket_finding },
  { name: 'Migration20261206000000_rate_limit_budget', class: Migration20261206000000_rate_limit_budget },
  { name: 'Migration20261207000000_search_bigrams', class: Migration20261207000000_search_bigrams },
  { name: 'Migration20261208000000_reply_count', class: Migration20261208000000_reply_count },
  { name: 'Migration20261209000000_viewer_page_indexes', class: Migration20261209000000_viewer_page_indexes },
];
