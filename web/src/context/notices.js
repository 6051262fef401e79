// Short confirmations ("Profile saved") announced politely to screen readers and shown
// for a few seconds; errors stay next to what caused them instead.
import { createContext } from '../../vendor/preact.mjs';
import { useCallback, useContext, useMemo, useRef, useState } from '../../vendor/hooks.mjs';
import { html } from '../html.js';

const NoticeContext = createContext(() => {});

export function NoticeProvider({ children }) {
  const [notices, setNotices] = useState([]);
  const next = useRef(1);
  const notify = useCallback((text, tone = 'success') => {
    const id = next.current++;
    setNotices((n) => [...n, { id, text, tone }]);
    setTimeout(() => setNotices((n) => n.filter((x) => x.id !== id)), 5000);
  }, []);
  const value = useMemo(() => notify, [notify]);
  return html`<${NoticeContext.Provider} value=${value}>
    ${children}
    <div class="notices" role="status" aria-live="polite">
      ${notices.map((n) => html`<div key=${n.id} class=${`notice notice-${n.tone}`}>${n.text}</div>`)}
    </div>
  <//>`;
}

export function useNotify() {
  return useContext(NoticeContext);
}
