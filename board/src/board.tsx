import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { gql, STATUS_LABEL, STATUSES, TICKET_FIELDS, when, type Me, type Status, type Ticket, type TicketEvent, type UserRef } from './api';
import type { Route } from './app';
import { openLive, type ConnectionState } from './live';
import { NewTicket } from './new-ticket';
import { TicketDetail } from './ticket-detail';

const LIST = `query Tickets($filter: TicketFilter, $statsFilter: TicketFilter) {
  tickets(filter: $filter, first: 50) { totalCount edges { node { ${TICKET_FIELDS} } } }
  ticketStats(filter: $statsFilter) { total byStatus { status count } }
}`;
const STAFF = 'query Staff { users(filter: { roles: [STAFF], active: true }, first: 100) { edges { node { id username openTicketCount } } } }';

/** How often a staff member's list is re-read for tickets reassigned away from them. */
const RECHECK_MS = 15_000;

export interface StaffMember extends UserRef {
  openTicketCount: number | null;
}

interface Filters {
  status: Status | '';
  /** '' anyone, 'none' unassigned, else a staff id */
  assignee: string;
  search: string;
}

const STATE_WORDS: Record<ConnectionState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  closed: 'Not connected',
};

const KIND_WORDS: Record<TicketEvent['kind'], string> = {
  CREATED: 'filed',
  STATUS_CHANGED: 'moved',
  EDITED: 'edited',
  REPLY_ADDED: 'replied to',
  REPLY_DELETED: 'deleted a reply on',
};

export function shortId(id: string): string {
  return id.slice(-6);
}

export function StatusBadge(props: { status: Status }) {
  return <span class={`badge s-${props.status.toLowerCase()}`}>{STATUS_LABEL[props.status]}</span>;
}

export function Board(props: { me: Me; token: string; route: Route; usersPage: ComponentChildren; onSignOut(): void; onSessionEnded(reason: string): void }) {
  const { me, route } = props;
  const isScheduler = me.roles.includes('SCHEDULER');
  const isCustomer = me.roles.includes('CUSTOMER');
  const [filters, setFilters] = useState<Filters>({ status: '', assignee: '', search: '' });
  const [search, setSearch] = useState('');
  const [tickets, setTickets] = useState<Ticket[] | null>(null);
  const [total, setTotal] = useState(0);
  const [counts, setCounts] = useState<Partial<Record<Status, number>>>({});
  const [countTotal, setCountTotal] = useState(0);
  const [listError, setListError] = useState<string | null>(null);
  const [connection, setConnection] = useState<{ state: ConnectionState; detail?: string }>({ state: 'connecting' });
  const [activity, setActivity] = useState<TicketEvent[]>([]);
  const [lastEvent, setLastEvent] = useState<TicketEvent | null>(null);
  const [staff, setStaff] = useState<StaffMember[]>([]);
  /** Bumped by the staff member's periodic re-read: the open ticket is re-read too. */
  const [recheck, setRecheck] = useState(0);

  // Debounced search: the filter follows the box 250 ms after typing stops.
  useEffect(() => {
    const timer = setTimeout(() => setFilters((f) => (f.search === search ? f : { ...f, search })), 250);
    return () => clearTimeout(timer);
  }, [search]);

  const loadStaff = useCallback(() => {
    if (!isScheduler && !me.admin) return;
    gql<{ users: { edges: Array<{ node: StaffMember }> } }>(STAFF).then(
      (data) => setStaff(data.users.edges.map((edge) => edge.node)),
      () => undefined,
    );
  }, [isScheduler, me.admin]);
  useEffect(loadStaff, [loadStaff]);

  const filtersRef = useRef(filters);
  filtersRef.current = filters;
  const loadSeq = useRef(0);
  const load = useCallback(async () => {
    const f = filtersRef.current;
    const statsFilter: Record<string, unknown> = {};
    if (f.search.trim()) statsFilter.search = f.search.trim();
    if (f.assignee === 'none') statsFilter.unassigned = true;
    else if (f.assignee) statsFilter.staffId = f.assignee;
    const filter = { ...statsFilter, ...(f.status ? { status: [f.status] } : {}) };
    const seq = ++loadSeq.current;
    try {
      const data = await gql<{
        tickets: { totalCount: number; edges: Array<{ node: Ticket }> };
        ticketStats: { total: number; byStatus: Array<{ status: Status; count: number }> };
      }>(LIST, { filter, statsFilter });
      if (seq !== loadSeq.current) return; // a newer read is on its way
      setTickets(data.tickets.edges.map((edge) => edge.node));
      setTotal(data.tickets.totalCount);
      setCounts(Object.fromEntries(data.ticketStats.byStatus.map((entry) => [entry.status, entry.count])));
      setCountTotal(data.ticketStats.total);
      setListError(null);
    } catch (error) {
      if (seq === loadSeq.current) setListError(error instanceof Error ? error.message : String(error));
    }
  }, []);
  useEffect(() => {
    void load();
  }, [filters, load]);

  // Re-reads after events are coalesced: a burst of events costs one list read.
  const reloadTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const scheduleReload = useCallback(() => {
    clearTimeout(reloadTimer.current);
    reloadTimer.current = setTimeout(() => {
      void load();
      loadStaff();
    }, 120);
  }, [load, loadStaff]);

  useEffect(() => {
    const live = openLive({
      token: props.token,
      onEvent: (event) => {
        setActivity((list) => [event, ...list].slice(0, 40));
        setLastEvent(event);
        // The ticket as this viewer sees it now, at once; the list read that follows re-applies
        // the filters, the order and the counts.
        setTickets((list) => list && list.map((ticket) => (ticket.id === event.ticket.id ? { ...ticket, ...event.ticket } : ticket)));
        scheduleReload();
      },
      onState: (state, detail) => setConnection({ state, detail }),
      onReconnected: scheduleReload,
      onSessionEnded: props.onSessionEnded,
      onError: (message) => setListError(message),
    });
    return () => live.close();
  }, [props.token]);

  // What a staff member may see can shrink without an event reaching them: a ticket reassigned
  // to a colleague sends its events to the colleague only (the API has no "no longer yours"
  // event; docs/board.md). Their list is re-read every 15 s. Customers see their own tickets
  // and schedulers every ticket: nothing leaves their view, so they are not polled.
  const mayLoseTickets = me.roles.includes('STAFF') && !isScheduler;
  useEffect(() => {
    if (!mayLoseTickets) return;
    const timer = setInterval(() => {
      void load();
      setRecheck((n) => n + 1);
    }, RECHECK_MS);
    return () => clearInterval(timer);
  }, [load, mayLoseTickets]);

  const selectedId = route.page === 'tickets' ? route.ticketId : undefined;
  const statusButtons = useMemo(
    () =>
      STATUSES.map((status) => (
        <li key={status}>
          <button
            type="button"
            class={filters.status === status ? 'count active' : 'count'}
            aria-pressed={filters.status === status}
            data-status={status}
            onClick={() => setFilters((f) => ({ ...f, status: f.status === status ? '' : status }))}
          >
            <span>{STATUS_LABEL[status]}</span> <strong>{counts[status] ?? 0}</strong>
          </button>
        </li>
      )),
    [counts, filters.status],
  );

  return (
    <div class="shell">
      <header class="top">
        <h1>
          <a href="#/">Help desk</a>
        </h1>
        <nav aria-label="Pages">
          <a href="#/" aria-current={route.page === 'tickets' ? 'page' : undefined}>
            Tickets
          </a>
          {isCustomer && (
            <a href="#/new" aria-current={route.page === 'new' ? 'page' : undefined}>
              New ticket
            </a>
          )}
          {me.admin && (
            <a href="#/users" aria-current={route.page === 'users' ? 'page' : undefined}>
              Users
            </a>
          )}
        </nav>
        <p class={`connection c-${connection.state}`} role="status" aria-live="polite" data-connection={connection.state}>
          <span class="dot" aria-hidden="true" />
          {STATE_WORDS[connection.state]}
          {connection.detail ? ` (${connection.detail})` : ''}
        </p>
        <p class="who">
          <span data-testid="me">{me.username}</span>{' '}
          <span class="roles">
            {me.roles.map((r) => r.toLowerCase()).join(', ')}
            {me.admin ? ', admin' : ''}
          </span>
          <button type="button" class="secondary" onClick={props.onSignOut}>
            Sign out
          </button>
        </p>
      </header>

      {route.page === 'users' && props.usersPage}
      {route.page === 'new' && <NewTicket onCreated={(id) => (location.hash = `#/t/${id}`)} />}
      {route.page === 'tickets' && (
        <div class={selectedId ? 'columns has-selection' : 'columns'}>
          <section class="list" aria-labelledby="list-title">
            <h2 id="list-title">
              Tickets{' '}
              <span class="muted">
                ({total} shown of {countTotal})
              </span>
            </h2>
            <ul class="counts" aria-label="Counts by status (press to filter)">
              {statusButtons}
            </ul>
            <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filters">
              <label>
                Status
                <select value={filters.status} onChange={(e) => setFilters((f) => ({ ...f, status: e.currentTarget.value as Status | '' }))}>
                  <option value="">All statuses</option>
                  {STATUSES.map((status) => (
                    <option value={status}>{STATUS_LABEL[status]}</option>
                  ))}
                </select>
              </label>
              <label>
                Assignee
                <select value={filters.assignee} onChange={(e) => setFilters((f) => ({ ...f, assignee: e.currentTarget.value }))}>
                  <option value="">Anyone</option>
                  <option value="none">Unassigned</option>
                  {isScheduler ? staff.map((member) => <option value={member.id}>{member.username}</option>) : !isCustomer && <option value={me.id}>Me</option>}
                </select>
              </label>
              <label>
                Search
                <input type="search" value={search} placeholder="words in the ticket or its replies" onInput={(e) => setSearch(e.currentTarget.value)} />
              </label>
            </form>
            {listError && (
              <p class="error" role="alert">
                {listError}
              </p>
            )}
            {tickets === null ? (
              <p>Loading…</p>
            ) : tickets.length === 0 ? (
              <p class="muted">No tickets here.</p>
            ) : (
              <ul class="tickets" aria-label="Tickets, newest first">
                {tickets.map((ticket) => (
                  <li key={ticket.id} class={ticket.id === selectedId ? 'selected' : ''} data-ticket-id={ticket.id} data-status={ticket.status}>
                    <a href={`#/t/${ticket.id}`} aria-current={ticket.id === selectedId ? 'true' : undefined}>
                      <span class="line1">
                        <StatusBadge status={ticket.status} />
                        <span class="id">#{shortId(ticket.id)}</span>
                        <span class="muted">{when(ticket.createdAt)}</span>
                      </span>
                      <span class="content">{ticket.content}</span>
                      <span class="muted line3">
                        by {ticket.customer.username}
                        {ticket.staff ? ` · staff ${ticket.staff.username}` : ' · unassigned'}
                        {ticket.images.length ? ` · ${ticket.images.length} image${ticket.images.length > 1 ? 's' : ''}` : ''}
                      </span>
                    </a>
                  </li>
                ))}
              </ul>
            )}
            <section class="activity" aria-labelledby="activity-title">
              <h2 id="activity-title">Activity</h2>
              {activity.length === 0 ? (
                <p class="muted">Changes made while this page is open appear here.</p>
              ) : (
                <ol aria-live="polite">
                  {activity.map((event) => (
                    <li key={event.cursor} data-cursor={event.cursor} data-kind={event.kind} data-ticket-id={event.ticket.id}>
                      <span class="muted">{new Date(event.at).toLocaleTimeString()}</span> {event.actor.username} {KIND_WORDS[event.kind]}{' '}
                      <a href={`#/t/${event.ticket.id}`}>#{shortId(event.ticket.id)}</a>
                      {event.kind === 'STATUS_CHANGED' && <> → {STATUS_LABEL[event.ticket.status]}</>}
                    </li>
                  ))}
                </ol>
              )}
            </section>
          </section>
          <section class="detail" aria-label="Ticket">
            {selectedId ? (
              <TicketDetail key={selectedId} id={selectedId} me={me} staff={staff} lastEvent={lastEvent} recheck={recheck} onChanged={scheduleReload} />
            ) : (
              <p class="muted placeholder">Choose a ticket to see its content, replies and history.</p>
            )}
          </section>
        </div>
      )}
    </div>
  );
}
