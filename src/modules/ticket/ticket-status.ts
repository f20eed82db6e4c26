/** Ticket statuses of docs/contract.md ("Statuses"), with their codes. */
export enum TicketStatus {
  NEW = 'NEW',
  ASSIGNED = 'ASSIGNED',
  FIXED = 'FIXED',
  CLOSED = 'CLOSED',
  REOPEN = 'REOPEN',
  REQUEST_INFORMATION = 'REQUEST_INFORMATION',
  CANCEL = 'CANCEL',
  IN_PROCESSING = 'IN_PROCESSING',
}

export const ALL_STATUSES: readonly TicketStatus[] = [
  TicketStatus.NEW,
  TicketStatus.ASSIGNED,
  TicketStatus.FIXED,
  TicketStatus.CLOSED,
  TicketStatus.REOPEN,
  TicketStatus.REQUEST_INFORMATION,
  TicketStatus.CANCEL,
  TicketStatus.IN_PROCESSING,
];

/** The numeric code: what the database stores and the legacy endpoint prints. */
export const STATUS_CODE: Readonly<Record<TicketStatus, number>> = {
  [TicketStatus.NEW]: 1,
  [TicketStatus.ASSIGNED]: 2,
  [TicketStatus.FIXED]: 3,
  [TicketStatus.CLOSED]: 4,
  [TicketStatus.REOPEN]: 5,
  [TicketStatus.REQUEST_INFORMATION]: 6,
  [TicketStatus.CANCEL]: 7,
  [TicketStatus.IN_PROCESSING]: 8,
};

const STATUS_BY_CODE: ReadonlyMap<number, TicketStatus> = new Map(ALL_STATUSES.map((status) => [STATUS_CODE[status], status]));

/** The status with this code; throws on an unknown code (a corrupt row is a bug, not input). */
export function statusFromCode(code: number): TicketStatus {
  const status = STATUS_BY_CODE.get(code);
  if (!status) throw new Error(`Unknown ticket status code ${code}`);
  return status;
}

/** Human-readable names (docs/contract.md "Statuses"), used in messages. */
export const STATUS_DISPLAY_NAME: Readonly<Record<TicketStatus, string>> = {
  [TicketStatus.NEW]: 'NEW',
  [TicketStatus.ASSIGNED]: 'ASSIGNED',
  [TicketStatus.FIXED]: 'FIXED',
  [TicketStatus.CLOSED]: 'CLOSED',
  [TicketStatus.REOPEN]: 'REOPEN',
  [TicketStatus.REQUEST_INFORMATION]: 'REQUEST_INFORMATION',
  [TicketStatus.CANCEL]: 'CANCEL',
  [TicketStatus.IN_PROCESSING]: 'IN_PROCESSING',
};

/** Spellings beyond the canonical names, after folding case and separators (docs/contract.md). */
const ALIASES: Readonly<Record<string, TicketStatus>> = {
  REOPENED: TicketStatus.REOPEN,
  PENDING: TicketStatus.REQUEST_INFORMATION,
  CANCELLED: TicketStatus.CANCEL,
  CANCELED: TicketStatus.CANCEL,
  PROCESSING: TicketStatus.IN_PROCESSING,
};

/** Upper case, with runs of spaces, `_` and `-` folded into a single `_`. */
export const foldStatusName = (text: string): string =>
  text
    .trim()
    .toUpperCase()
    .replace(/[\s_-]+/g, '_');

/**
 * Reads a status from outside input, as forgivingly as docs/contract.md asks: any case; spaces, `_` and `-`
 * alike; the aliases REOPENED, PENDING, CANCELLED/CANCELED, PROCESSING; the numeric code as a
 * number or a numeric string. Returns undefined when the input names no status.
 */
export function parseStatus(input: unknown): TicketStatus | undefined {
  if (typeof input === 'number') return Number.isInteger(input) ? STATUS_BY_CODE.get(input) : undefined;
  if (typeof input !== 'string') return undefined;
  const text = input.trim();
  if (/^\d+$/.test(text)) return STATUS_BY_CODE.get(Number(text));
  const folded = foldStatusName(text);
  if ((ALL_STATUSES as readonly string[]).includes(folded)) return folded as TicketStatus;
  return ALIASES[folded];
}
