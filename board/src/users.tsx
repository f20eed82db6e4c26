import { useCallback, useEffect, useState } from 'preact/hooks';
import { gql, ROLES, when, type Me, type Role } from './api';

interface Person {
  id: string;
  username: string;
  roles: Role[];
  active: boolean;
  admin: boolean | null;
  createdAt: string | null;
  openTicketCount: number | null;
}

const USERS = `query Users($search: String) { users(filter: { search: $search }, first: 100) { totalCount edges { node { id username roles active admin createdAt openTicketCount } } } }`;
const UPDATE = 'mutation Update($id: ID!, $input: UpdateUserInput!) { updateUser(id: $id, input: $input) { id } }';

const roleWord = (role: Role) => role.charAt(0) + role.slice(1).toLowerCase();

function RoleBoxes(props: { legend: string; roles: Role[]; onChange(roles: Role[]): void }) {
  return (
    <fieldset class="roles">
      <legend>{props.legend}</legend>
      {ROLES.map((role) => (
        <label class="inline">
          <input
            type="checkbox"
            checked={props.roles.includes(role)}
            onChange={(e) => props.onChange(e.currentTarget.checked ? [...props.roles, role] : props.roles.filter((r) => r !== role))}
          />
          {roleWord(role)}
        </label>
      ))}
    </fieldset>
  );
}

function PersonRow(props: { person: Person; me: Me; onDone(message: string): void; onError(message: string): void }) {
  const { person } = props;
  const [roles, setRoles] = useState<Role[]>(person.roles);
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  useEffect(() => setRoles(person.roles), [person.roles.join()]);
  const run = async (what: () => Promise<unknown>, done: string) => {
    setBusy(true);
    try {
      await what();
      props.onDone(done);
    } catch (caught) {
      props.onError(caught instanceof Error ? caught.message : String(caught));
    } finally {
      setBusy(false);
    }
  };
  const changed = roles.slice().sort().join() !== person.roles.slice().sort().join();
  return (
    <tr data-username={person.username} class={person.active ? '' : 'inactive'}>
      <th scope="row">
        {person.username}
        {person.admin ? <span class="badge">admin</span> : null}
        <div class="muted small">
          {person.active ? 'active' : 'deactivated'}
          {person.openTicketCount ? ` · ${person.openTicketCount} open` : ''}
          {person.createdAt ? ` · since ${when(person.createdAt)}` : ''}
        </div>
      </th>
      <td>
        <RoleBoxes legend={`Roles of ${person.username}`} roles={roles} onChange={setRoles} />
        <button
          type="button"
          class="small"
          disabled={busy || !changed || roles.length === 0}
          onClick={() => run(() => gql(UPDATE, { id: person.id, input: { roles } }), `Roles of ${person.username} saved.`)}
        >
          Save roles
        </button>
      </td>
      <td>
        {person.id !== props.me.id && (
          <button
            type="button"
            class="small secondary"
            disabled={busy}
            onClick={() =>
              run(
                () => gql(UPDATE, { id: person.id, input: { active: !person.active } }),
                `${person.username} ${person.active ? 'deactivated' : 'reactivated'}.`,
              )
            }
          >
            {person.active ? 'Deactivate' : 'Reactivate'}
          </button>
        )}
      </td>
      <td>
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            void run(
              () =>
                gql('mutation Reset($id: ID!, $p: String!) { resetPassword(id: $id, newPassword: $p) }', { id: person.id, p: password }).then(() =>
                  setPassword(''),
                ),
              `Password of ${person.username} reset; their sessions ended.`,
            );
          }}
        >
          <label>
            <span class="visually-hidden">New password for {person.username}</span>
            <input
              type="password"
              autocomplete="new-password"
              placeholder="new password"
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
              required
            />
          </label>
          <button type="submit" class="small" disabled={busy || !password}>
            Reset password
          </button>
        </form>
      </td>
    </tr>
  );
}

export function Users(props: { me: Me }) {
  const [people, setPeople] = useState<Person[]>([]);
  const [search, setSearch] = useState('');
  const [message, setMessage] = useState<{ text: string; error: boolean } | null>(null);
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [roles, setRoles] = useState<Role[]>(['CUSTOMER']);
  const [admin, setAdmin] = useState(false);

  const load = useCallback(() => {
    gql<{ users: { edges: Array<{ node: Person }> } }>(USERS, { search: search.trim() || null }).then(
      (data) => setPeople(data.users.edges.map((edge) => edge.node)),
      (error: Error) => setMessage({ text: error.message, error: true }),
    );
  }, [search]);
  useEffect(() => {
    const timer = setTimeout(load, 200);
    return () => clearTimeout(timer);
  }, [load]);

  const done = (text: string) => {
    setMessage({ text, error: false });
    load();
  };
  const failed = (text: string) => setMessage({ text, error: true });

  const create = async (event: Event) => {
    event.preventDefault();
    try {
      await gql('mutation Create($input: CreateUserInput!) { createUser(input: $input) { id } }', {
        input: { username: username.trim(), password, roles, admin },
      });
      setUsername('');
      setPassword('');
      done(`${username.trim()} created.`);
    } catch (caught) {
      failed(caught instanceof Error ? caught.message : String(caught));
    }
  };

  return (
    <main class="page users">
      <h2>Users</h2>
      {message && (
        <p class={message.error ? 'error' : 'notice'} role={message.error ? 'alert' : 'status'}>
          {message.text}
        </p>
      )}
      <form class="create-user" aria-label="Create a user" onSubmit={create}>
        <h3>Create a user</h3>
        <label>
          Username
          <input value={username} required autocomplete="off" onInput={(e) => setUsername(e.currentTarget.value)} />
        </label>
        <label>
          Password
          <input type="password" value={password} required autocomplete="new-password" onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        <RoleBoxes legend="Roles" roles={roles} onChange={setRoles} />
        <label class="inline">
          <input type="checkbox" checked={admin} onChange={(e) => setAdmin(e.currentTarget.checked)} /> Administrator
        </label>
        <button type="submit" disabled={roles.length === 0}>
          Create user
        </button>
      </form>
      <label class="search">
        Find users
        <input type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} placeholder="part of a username" />
      </label>
      <div class="table-wrap">
        <table>
          <caption class="visually-hidden">Users</caption>
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Roles</th>
              <th scope="col">Account</th>
              <th scope="col">Password</th>
            </tr>
          </thead>
          <tbody>
            {people.map((person) => (
              <PersonRow key={person.id} person={person} me={props.me} onDone={done} onError={failed} />
            ))}
          </tbody>
        </table>
      </div>
    </main>
  );
}
