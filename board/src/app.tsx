import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { gql, setUnauthenticatedHandler, tokenStore, type Me } from './api';
import { Board } from './board';
import { SignIn } from './sign-in';
import { Users } from './users';

export type Route = { page: 'tickets'; ticketId?: string } | { page: 'new' } | { page: 'users' };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/');
  if (parts[0] === 't' && parts[1]) return { page: 'tickets', ticketId: decodeURIComponent(parts[1]) };
  if (parts[0] === 'new') return { page: 'new' };
  if (parts[0] === 'users') return { page: 'users' };
  return { page: 'tickets' };
}

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

const ME = 'query Me { me { id username roles admin active } }';

export function App() {
  const [token, setToken] = useState(() => tokenStore.get());
  const [me, setMe] = useState<Me | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const route = useRoute();

  const signedOut = useCallback((reason: string | null) => {
    tokenStore.clear();
    setToken(null);
    setMe(null);
    setNotice(reason);
  }, []);
  // The token this tab is signing out of (its logout is in flight).
  const leaving = useRef<string | null>(null);
  // The server ended a sign-in (its socket closed with 4403, a request answered UNAUTHENTICATED).
  // Only this tab's current one counts: the signal for a token it is leaving or has left (the
  // 4403 its own logout causes can arrive after the logout's answer, before the board has closed
  // its socket) must not replace "You signed out." or end a newer sign-in.
  const sessionEnded = useCallback(
    (ended: string, reason: string) => {
      if (ended === tokenStore.get() && ended !== leaving.current) signedOut(reason);
    },
    [signedOut],
  );
  useEffect(() => setUnauthenticatedHandler(sessionEnded), [sessionEnded]);

  useEffect(() => {
    if (!token) return;
    gql<{ me: Me }>(ME).then(
      (data) => setMe(data.me),
      (error: Error) => setNotice(error.message),
    );
  }, [token]);

  if (!token) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={(newToken, user) => {
          tokenStore.set(newToken);
          setNotice(null);
          setMe(user);
          setToken(newToken);
        }}
      />
    );
  }
  if (!me) return <p class="loading">{notice ?? 'Loading…'}</p>;

  const signOut = async () => {
    leaving.current = token;
    try {
      await gql('mutation SignOut { logout }');
    } catch {
      // Signed out here either way; an expired token needs no revoking.
    }
    leaving.current = null;
    signedOut('You signed out.');
  };

  return (
    <Board
      me={me}
      token={token}
      route={route}
      onSignOut={signOut}
      onSessionEnded={(reason) => sessionEnded(token, reason)}
      usersPage={route.page === 'users' && me.admin ? <Users me={me} /> : null}
    />
  );
}
