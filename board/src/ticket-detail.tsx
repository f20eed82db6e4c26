import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, DETAIL_FIELDS, gql, STATUS_LABEL, when, type Me, type Permissions, type Ticket, type TicketEvent } from './api';
import { shortId, StatusBadge, type StaffMember } from './board';

const TICKET = `query Ticket($id: ID!) { ticket(id: $id) { ${DETAIL_FIELDS} } }`;

/** The transitions a ticket's flags allow, each with its mutation. */
const ACTIONS: Array<{ flag: keyof Permissions; label: string; mutation: string; confirm?: string }> = [
  { flag: 'startProcessing', label: 'Start processing', mutation: 'startProcessing' },
  { flag: 'requestInformation', label: 'Ask for information', mutation: 'requestInformation' },
  { flag: 'fix', label: 'Mark fixed', mutation: 'fixTicket' },
  { flag: 'close', label: 'Close', mutation: 'closeTicket' },
  { flag: 'reopen', label: 'Reopen', mutation: 'reopenTicket' },
  { flag: 'cancel', label: 'Cancel ticket', mutation: 'cancelTicket' },
];

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function TicketDetail(props: { id: string; me: Me; staff: StaffMember[]; lastEvent: TicketEvent | null; recheck: number; onChanged(): void }) {
  const { id, me } = props;
  const [ticket, setTicket] = useState<Ticket | null>(null);
  const [gone, setGone] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState('');
  const [reply, setReply] = useState('');
  const [assignee, setAssignee] = useState('');
  const heading = useRef<HTMLHeadingElement>(null);

  const load = useCallback(async (): Promise<Ticket | null> => {
    try {
      const data = await gql<{ ticket: Ticket | null }>(TICKET, { id });
      if (!data.ticket) throw new ApiError('This ticket does not exist.', 'NOT_FOUND');
      setTicket(data.ticket);
      setGone(null);
      return data.ticket;
    } catch (caught) {
      if (caught instanceof ApiError && (caught.code === 'FORBIDDEN' || caught.code === 'NOT_FOUND' || caught.code === 'BAD_USER_INPUT')) {
        setTicket(null);
        setGone(caught.code === 'FORBIDDEN' ? 'You can no longer see this ticket.' : 'There is no such ticket.');
      } else {
        setError(message(caught));
      }
      return null;
    }
  }, [id]);

  useEffect(() => {
    void load().then(() => heading.current?.focus());
  }, [load]);
  // A change to this ticket by anyone (this tab included) re-reads it: replies and history too.
  useEffect(() => {
    if (props.lastEvent?.ticket.id === id) void load();
  }, [props.lastEvent]);
  useEffect(() => {
    if (props.recheck > 0) void load();
  }, [props.recheck]);

  /** Runs a write; a CONFLICT (409) re-reads the ticket and says what it is now. */
  const act = async (what: () => Promise<unknown>, after?: () => void) => {
    setBusy(true);
    setError(null);
    try {
      await what();
      after?.();
      await load();
      props.onChanged();
    } catch (caught) {
      if (caught instanceof ApiError && caught.code === 'CONFLICT') {
        const now = await load();
        setError(`This ticket changed meanwhile${now ? `: it is now ${STATUS_LABEL[now.status]}` : ''}. ${caught.message}`);
      } else {
        setError(message(caught));
        if (caught instanceof ApiError && caught.code === 'FORBIDDEN') void load();
      }
    } finally {
      setBusy(false);
    }
  };

  if (gone) {
    return (
      <div class="gone" role="status">
        <p>{gone}</p>
        <a href="#/">Back to the list</a>
      </div>
    );
  }
  if (!ticket) return <p>{error ?? 'Loading…'}</p>;
  const flags = ticket.permissions;

  return (
    <article aria-labelledby="ticket-title" data-ticket-id={ticket.id} data-status={ticket.status}>
      <header class="ticket-head">
        <h2 id="ticket-title" tabIndex={-1} ref={heading}>
          Ticket #{shortId(ticket.id)} <StatusBadge status={ticket.status} />
        </h2>
        <p class="muted">
          <a href="#/" class="back">
            ← All tickets
          </a>
          <br />
          Filed by {ticket.customer.username} {when(ticket.createdAt)}
          {ticket.staff ? ` · assigned to ${ticket.staff.username}${ticket.staff.active === false ? ' (deactivated)' : ''}` : ' · unassigned'}
          {ticket.scheduler ? ` by ${ticket.scheduler.username}` : ''}
        </p>
      </header>

      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}

      <div class="actions" role="group" aria-label="Actions">
        {ACTIONS.filter((action) => flags[action.flag]).map((action) => (
          <button
            type="button"
            data-action={action.flag}
            disabled={busy}
            onClick={() => act(() => gql(`mutation Act($id: ID!) { ${action.mutation}(id: $id) { id status } }`, { id: ticket.id }))}
          >
            {action.label}
          </button>
        ))}
        {flags.edit && !editing && (
          <button
            type="button"
            data-action="edit"
            disabled={busy}
            onClick={() => {
              setDraft(ticket.content);
              setEditing(true);
            }}
          >
            Edit
          </button>
        )}
      </div>

      {flags.assign && (
        <form
          class="assign"
          aria-label="Assign"
          onSubmit={(e) => {
            e.preventDefault();
            if (assignee)
              void act(() =>
                gql('mutation Assign($id: ID!, $staff: ID!) { assignTicket(id: $id, staffId: $staff) { id status } }', { id: ticket.id, staff: assignee }),
              );
          }}
        >
          <label>
            Staff member
            <select name="staff" value={assignee} onChange={(e) => setAssignee(e.currentTarget.value)} required>
              <option value="">Choose…</option>
              {props.staff.map((member) => (
                <option value={member.id}>
                  {member.username} ({member.openTicketCount ?? 0} open)
                </option>
              ))}
            </select>
          </label>
          <button type="submit" data-action="assign" disabled={busy || !assignee}>
            {ticket.staff ? 'Reassign' : 'Assign'}
          </button>
        </form>
      )}

      {editing ? (
        <form
          class="edit"
          aria-label="Edit the ticket"
          onSubmit={(e) => {
            e.preventDefault();
            void act(
              () =>
                gql('mutation Edit($id: ID!, $content: String!) { editTicket(id: $id, input: { content: $content }) { id } }', {
                  id: ticket.id,
                  content: draft,
                }),
              () => setEditing(false),
            );
          }}
        >
          <label>
            Content
            <textarea rows={5} value={draft} onInput={(e) => setDraft(e.currentTarget.value)} required maxLength={65536} />
          </label>
          <button type="submit" disabled={busy}>
            Save
          </button>
          <button type="button" class="secondary" onClick={() => setEditing(false)}>
            Discard changes
          </button>
        </form>
      ) : (
        <p class="ticket-content">{ticket.content}</p>
      )}

      {ticket.images.length > 0 && (
        <ul class="images" aria-label="Images">
          {ticket.images.map((url, index) => (
            <li>
              <a href={url} target="_blank" rel="noopener noreferrer">
                <img src={url} alt={`Image ${index + 1} of the ticket`} loading="lazy" />
              </a>
            </li>
          ))}
        </ul>
      )}

      <section aria-labelledby="replies-title">
        <h3 id="replies-title">Replies ({ticket.replies?.length ?? 0})</h3>
        <ol class="replies">
          {ticket.replies?.map((entry) => (
            <li key={entry.id} data-reply-id={entry.id}>
              <p class="muted">
                {entry.author.username} · {when(entry.createdAt)}
              </p>
              <p class="reply-text">{entry.content}</p>
              {entry.author.id === me.id && (
                <button
                  type="button"
                  class="secondary small"
                  disabled={busy}
                  aria-label={`Delete your reply of ${when(entry.createdAt)}`}
                  onClick={() => act(() => gql('mutation DeleteReply($id: ID!) { deleteReply(id: $id) }', { id: entry.id }))}
                >
                  Delete
                </button>
              )}
            </li>
          ))}
        </ol>
        {flags.reply && (
          <form
            class="reply"
            aria-label="Reply"
            onSubmit={(e) => {
              e.preventDefault();
              if (reply.trim())
                void act(
                  () =>
                    gql('mutation Reply($id: ID!, $content: String!) { addReply(ticketId: $id, content: $content) { id } }', { id: ticket.id, content: reply }),
                  () => setReply(''),
                );
            }}
          >
            <label>
              Your reply
              <textarea rows={3} value={reply} onInput={(e) => setReply(e.currentTarget.value)} maxLength={65536} />
            </label>
            <button type="submit" data-action="reply" disabled={busy || !reply.trim()}>
              Send reply
            </button>
          </form>
        )}
      </section>

      <section aria-labelledby="history-title">
        <h3 id="history-title">History</h3>
        <ol class="history">
          {ticket.history?.map((entry) => (
            <li key={entry.id}>
              <StatusBadge status={entry.status} /> by {entry.actor.username} · <span class="muted">{when(entry.at)}</span>
            </li>
          ))}
        </ol>
      </section>
    </article>
  );
}
