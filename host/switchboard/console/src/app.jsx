import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, paths, setCsrf, setUnauthorizedHandler } from './api.js';
import { applyLang, initialLang, storeLang, t } from './i18n.js';
import { beep, connectLive, liveIsOpen, subscribe } from './live.js';
import { go, parseHash, useRoute } from './router.js';
import { Header } from './components/Header.jsx';
import { Login } from './pages/Login.jsx';
import { Inbox } from './pages/Inbox.jsx';
import { Dashboard } from './pages/Dashboard.jsx';
import { Operator } from './pages/Operator.jsx';

const HANDOFF_EVENTS = new Set(['handoff.requested', 'conversation.assigned', 'handoff.returned', 'conversation.closed']);

const homeOf = (session) => (session && session.role === 'operator' ? '#/operator' : '#/inbox');

// Where a signed-out visitor was going (a conversation's link), for after sign-in.
let wanted = null;

export function App() {
  const [lang, setLang] = useState(initialLang);
  applyLang(lang);
  // undefined while the session is being read; null when signed out.
  const [session, setSession] = useState(undefined);
  const [linkError, setLinkError] = useState(null);
  const [badge, setBadge] = useState(0);
  const route = useRoute();
  const linking = useRef(null);

  const signIn = useCallback((next) => {
    setCsrf(next && next.csrf);
    setSession(next || null);
  }, []);

  const signOut = useCallback(() => {
    setCsrf(null);
    setSession(null);
    setBadge(0);
    go('#/login');
  }, []);

  useEffect(() => {
    setUnauthorizedHandler(signOut);
  }, [signOut]);

  // A sign-in link (#/link/<token>) is spent on the server, then forgotten.
  useEffect(() => {
    if (route.page !== 'link') return;
    const token = route.arg;
    if (!token || linking.current === token) return;
    linking.current = token;
    setLinkError(null);
    api('POST', '/v1/session/link', { token }, { quiet401: true })
      .then((next) => {
        signIn(next);
        go(homeOf(next), true);
      })
      .catch((error) => {
        setLinkError(error.status === 401 ? t('login.link_invalid') : error.message);
        setCsrf(null);
        setSession(null);
        go('#/login', true);
      });
  }, [route.page, route.arg, signIn]);

  // Who is signed in, once at start (unless a link is being spent).
  useEffect(() => {
    if (parseHash(location.hash).page === 'link') return;
    api('GET', '/v1/session', undefined, { quiet401: true })
      .then(signIn)
      .catch(() => signIn(null));
  }, [signIn]);

  // Keep the route in step with the session and its role. The hash is read
  // afresh: a navigation just made may not have reached `route` yet.
  useEffect(() => {
    const page = parseHash(location.hash).page;
    if (session === undefined || page === 'link') return;
    if (session === null) {
      if (page !== 'login') {
        if (['inbox', 'dashboard', 'operator'].includes(page)) wanted = location.hash;
        go('#/login', true);
      }
      return;
    }
    const operator = session.role === 'operator';
    if (page === '' || page === 'login') go(homeOf(session), true);
    else if (operator && (page === 'inbox' || page === 'dashboard')) go('#/operator', true);
    else if (!operator && page === 'operator') go('#/inbox', true);
    else if (!['inbox', 'dashboard', 'operator'].includes(page)) go(homeOf(session), true);
  }, [session, route.page]);

  const tenant = session && session.role !== 'operator' ? session.tenant : null;

  // The badge: every handoff waiting for a person (however it was routed),
  // refreshed on every handoff-ish event.
  const refreshBadge = useCallback(() => {
    if (!tenant) return;
    api('GET', `${paths.tenant(tenant)}/inbox`)
      .then((answer) => setBadge(((answer && answer.conversations) || []).length))
      .catch(() => {});
  }, [tenant]);

  useEffect(() => {
    if (!tenant) return undefined;
    const live = connectLive(tenant);
    let pending = null;
    const soon = () => {
      clearTimeout(pending);
      pending = setTimeout(refreshBadge, 200);
    };
    const off = subscribe((message) => {
      if (message.kind === 'open') soon();
      if (message.kind !== 'event') return;
      if (HANDOFF_EVENTS.has(message.event.type)) soon();
      if (message.event.type === 'handoff.requested') beep();
    });
    refreshBadge();
    // Without the socket, look now and then.
    const poll = setInterval(() => {
      if (!liveIsOpen()) refreshBadge();
    }, 30000);
    return () => {
      off();
      live.stop();
      clearTimeout(pending);
      clearInterval(poll);
    };
  }, [tenant, refreshBadge]);

  useLayoutEffect(() => {
    document.title = badge > 0 ? `(${badge}) Switchboard` : 'Switchboard';
  }, [badge]);

  const changeLang = (next) => {
    storeLang(next);
    setLang(next);
  };

  const logout = () => {
    api('POST', '/v1/session/logout', {}, { quiet401: true })
      .catch(() => {})
      .finally(signOut);
  };

  let page = null;
  if (session === undefined || route.page === 'link') {
    page = <div class="loading">{t('common.loading')}</div>;
  } else if (session === null) {
    const signedIn = (next) => {
      setLinkError(null);
      signIn(next);
      const target = wanted || homeOf(next);
      wanted = null;
      go(target);
    };
    page = <Login onSignedIn={signedIn} linkError={linkError} />;
  } else if (route.page === 'inbox' && tenant) {
    page = <Inbox session={session} tenant={tenant} selected={route.arg} onChanged={refreshBadge} />;
  } else if (route.page === 'dashboard' && tenant) {
    page = <Dashboard tenant={tenant} />;
  } else if (route.page === 'operator' && session.role === 'operator') {
    page = <Operator />;
  }

  return (
    <div class={`app page-${route.page || 'none'}`}>
      <Header session={session} page={route.page} badge={badge} lang={lang} onLang={changeLang} onLogout={logout} />
      <main class="main">{page}</main>
    </div>
  );
}
