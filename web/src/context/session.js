// The session and the deployment's settings, for every component: who is signed in
// (from GET /api/users/session/, whose cookie the page cannot read), and which
// providers and payments are configured (GET /api/users/config/).
import { createContext } from '../../vendor/preact.mjs';
import { useCallback, useContext, useEffect, useMemo, useState } from '../../vendor/hooks.mjs';
import { html } from '../html.js';
import * as api from '../api/endpoints.js';
import { whenUnauthenticated } from '../api/client.js';

const SessionContext = createContext(null);

export function SessionProvider({ children }) {
  const [state, setState] = useState({ loading: true, user: null, config: null, expired: false });

  const refresh = useCallback(async () => {
    try {
      const answer = await api.getSession();
      setState((s) => ({ ...s, loading: false, user: answer.user, expired: false }));
      return answer.user;
    } catch {
      setState((s) => ({ ...s, loading: false, user: null }));
      return null;
    }
  }, []);

  useEffect(() => {
    whenUnauthenticated(() => setState((s) => (s.user ? { ...s, user: null, expired: true } : s)));
    const emptyConfig = { providers: {}, stripe: { enabled: false, plans: [] }, limits: {} };
    api.getConfig().then(
      (config) => setState((s) => ({ ...s, config })),
      () => setState((s) => ({ ...s, config: emptyConfig })),
    );
    refresh();
  }, [refresh]);

  const signIn = useCallback(async (login, password) => {
    const answer = await api.signIn(login, password);
    await refresh();
    return answer;
  }, [refresh]);

  const signOut = useCallback(async () => {
    try {
      await api.signOut();
    } finally {
      setState((s) => ({ ...s, user: null, expired: false }));
    }
  }, []);

  /** Merges fields the page just saved into the user, without another request. */
  const patchUser = useCallback((fields) => setState((s) => (s.user ? { ...s, user: { ...s.user, ...fields } } : s)), []);

  const value = useMemo(() => ({ ...state, refresh, signIn, signOut, patchUser }), [state, refresh, signIn, signOut, patchUser]);
  return html`<${SessionContext.Provider} value=${value}>${children}<//>`;
}

export function useSession() {
  return useContext(SessionContext);
}
