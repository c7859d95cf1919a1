// Hash routes: #/login, #/link/<token>, #/inbox, #/inbox/<id>, #/dashboard, #/operator.
import { useEffect, useState } from 'preact/hooks';

export function parseHash(hash) {
  const path = (hash || '').replace(/^#\/?/, '');
  const [head, ...rest] = path.split('/');
  const tail = rest.join('/');
  let arg = null;
  if (tail) {
    try {
      arg = decodeURIComponent(tail);
    } catch {
      arg = tail;
    }
  }
  return { page: head || '', arg };
}

export function useRoute() {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseHash(location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

export function go(hash, replace = false) {
  if (location.hash === hash) return;
  if (replace) {
    history.replaceState(null, '', hash);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } else {
    location.hash = hash;
  }
}

export const conversationHash = (id) => `#/inbox/${encodeURIComponent(id)}`;
