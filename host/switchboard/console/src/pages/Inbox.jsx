import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, paths, query } from '../api.js';
import { t, tOr } from '../i18n.js';
import { when } from '../format.js';
import { liveIsOpen, subscribe } from '../live.js';
import { conversationHash } from '../router.js';
import { CHANNELS, ChannelTag, Empty, PRIORITIES, PriorityTag, channelName, statusText } from '../components/bits.jsx';
import { Conversation } from './Conversation.jsx';

const LIST_EVENTS = new Set(['handoff.requested', 'conversation.assigned', 'handoff.returned', 'conversation.closed']);
const PAGE = 50;

// Filters outlive a visit to the dashboard.
const remembered = { tab: 'waiting', queue: '', assignee: 'anyone', channel: '', priority: '' };

export function Inbox({ session, tenant, selected, onChanged }) {
  const [tab, setTab] = useState(remembered.tab);
  const [filters, setFilters] = useState({ ...remembered });
  const [waiting, setWaiting] = useState(null);
  const [all, setAll] = useState(null);
  const [nextAfter, setNextAfter] = useState(null);
  const [error, setError] = useState(null);
  const [loading, setLoading] = useState(false);
  const [queues, setQueues] = useState([]);
  const [flash, setFlash] = useState({});
  const [staff, setStaff] = useState([]);
  const generation = useRef(0);

  const loadWaiting = useCallback(async () => {
    const mine = ++generation.current;
    setLoading(true);
    const assignee = filters.assignee === 'me' ? session.staff || '' : filters.assignee === 'unassigned' ? '-' : '';
    try {
      const answer = await api(
        'GET',
        `${paths.tenant(tenant)}/inbox${query({ queue: filters.queue, assignee, channel: filters.channel, priority: filters.priority })}`,
      );
      if (mine !== generation.current) return;
      const list = (answer && answer.conversations) || [];
      setWaiting(list);
      setError(null);
      setQueues((known) => {
        const next = new Set(known);
        for (const item of list) if (item.queue) next.add(item.queue);
        return next.size === known.length ? known : [...next].sort();
      });
    } catch (failure) {
      if (mine === generation.current) setError(failure.message);
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }, [tenant, filters.queue, filters.assignee, filters.channel, filters.priority, session.staff]);

  const loadAll = useCallback(
    async (after) => {
      const mine = ++generation.current;
      setLoading(true);
      try {
        const answer = await api('GET', `${paths.tenant(tenant)}/conversations${query({ after, limit: PAGE })}`);
        if (mine !== generation.current) return;
        const list = (answer && answer.conversations) || [];
        setAll((previous) => (after && previous ? [...previous, ...list] : list));
        setNextAfter((answer && answer.next_after) || null);
        setError(null);
      } catch (failure) {
        if (mine === generation.current) setError(failure.message);
      } finally {
        if (mine === generation.current) setLoading(false);
      }
    },
    [tenant],
  );

  const refresh = useCallback(() => (tab === 'all' ? loadAll() : loadWaiting()), [tab, loadAll, loadWaiting]);

  useEffect(() => {
    refresh();
  }, [refresh]);

  useEffect(() => {
    api('GET', `${paths.tenant(tenant)}/staff`)
      .then((answer) => setStaff((answer && answer.staff) || []))
      .catch(() => setStaff([]));
  }, [tenant]);

  // Live: handoff-ish events refresh the list; a new handoff flashes.
  const refreshRef = useRef(refresh);
  refreshRef.current = refresh;
  useEffect(() => {
    let pending = null;
    const soon = () => {
      clearTimeout(pending);
      pending = setTimeout(() => refreshRef.current(), 250);
    };
    const timers = [];
    const off = subscribe((message) => {
      if (message.kind === 'open') soon();
      if (message.kind !== 'event') return;
      const event = message.event;
      if (!LIST_EVENTS.has(event.type)) return;
      soon();
      if (event.type === 'handoff.requested' && event.conversation) {
        const id = event.conversation;
        setFlash((now) => ({ ...now, [id]: true }));
        timers.push(
          setTimeout(() => {
            setFlash((now) => {
              const next = { ...now };
              delete next[id];
              return next;
            });
          }, 4000),
        );
      }
    });
    const poll = setInterval(() => {
      if (!liveIsOpen()) refreshRef.current();
    }, 30000);
    return () => {
      off();
      clearTimeout(pending);
      clearInterval(poll);
      timers.forEach(clearTimeout);
    };
  }, []);

  const setFilter = (key, value) => {
    remembered[key] = value;
    setFilters((now) => ({ ...now, [key]: value }));
  };
  const chooseTab = (next) => {
    remembered.tab = next;
    setTab(next);
  };

  const changed = useCallback(() => {
    refreshRef.current();
    onChanged();
  }, [onChanged]);

  const list = tab === 'all' ? (all || []).filter((item) => !filters.channel || item.channel === filters.channel) : waiting || [];
  const loaded = tab === 'all' ? all !== null : waiting !== null;

  return (
    <div class={selected ? 'inbox has-selection' : 'inbox'}>
      <section class="list-pane" aria-label={t('inbox.title')}>
        <div class="tabs" role="tablist">
          <button
            type="button"
            role="tab"
            aria-selected={tab === 'waiting'}
            class={tab === 'waiting' ? 'tab active' : 'tab'}
            data-testid="tab-waiting"
            onClick={() => chooseTab('waiting')}
          >
            {t('inbox.tab_waiting')}
          </button>
          <button
            type="button"
            role="tab"
            aria-selected={tab === 'all'}
            class={tab === 'all' ? 'tab active' : 'tab'}
            data-testid="tab-all"
            onClick={() => chooseTab('all')}
          >
            {t('inbox.tab_all')}
          </button>
        </div>
        <div class="filters">
          {tab === 'waiting' && (
            <>
              <label>
                <span>{t('inbox.queue')}</span>
                <select data-testid="filter-queue" value={filters.queue} onChange={(e) => setFilter('queue', e.currentTarget.value)}>
                  <option value="">{t('inbox.any_queue')}</option>
                  {[...new Set([...queues, filters.queue].filter(Boolean))].map((queue) => (
                    <option value={queue} key={queue}>
                      {queue}
                    </option>
                  ))}
                </select>
              </label>
              <label>
                <span>{t('inbox.assignee')}</span>
                <select data-testid="filter-assignee" value={filters.assignee} onChange={(e) => setFilter('assignee', e.currentTarget.value)}>
                  <option value="anyone">{t('inbox.anyone')}</option>
                  {session.staff && <option value="me">{t('inbox.me')}</option>}
                  <option value="unassigned">{t('inbox.unassigned')}</option>
                </select>
              </label>
            </>
          )}
          <label>
            <span>{t('inbox.channel')}</span>
            <select data-testid="filter-channel" value={filters.channel} onChange={(e) => setFilter('channel', e.currentTarget.value)}>
              <option value="">{t('inbox.any_channel')}</option>
              {CHANNELS.map((channel) => (
                <option value={channel} key={channel}>
                  {channelName(channel)}
                </option>
              ))}
            </select>
          </label>
          {tab === 'waiting' && (
            <label>
              <span>{t('inbox.priority')}</span>
              <select data-testid="filter-priority" value={filters.priority} onChange={(e) => setFilter('priority', e.currentTarget.value)}>
                <option value="">{t('inbox.any_priority')}</option>
                {PRIORITIES.map((priority) => (
                  <option value={priority} key={priority}>
                    {tOr(`priority.${priority}`, priority)}
                  </option>
                ))}
              </select>
            </label>
          )}
        </div>
        {error && (
          <p class="alert" role="alert">
            {error}
          </p>
        )}
        <ul class="items" data-testid="inbox-list" aria-busy={loading}>
          {loaded && list.length === 0 && (
            <li>
              <Empty>{tab === 'all' ? t('inbox.none_all') : t('inbox.none_waiting')}</Empty>
            </li>
          )}
          {!loaded && (
            <li>
              <Empty>{t('common.loading')}</Empty>
            </li>
          )}
          {tab === 'waiting'
            ? list.map((item) => <WaitingItem key={item.id} item={item} active={item.id === selected} flash={!!flash[item.id]} />)
            : list.map((item) => <AnyItem key={item.id} item={item} active={item.id === selected} />)}
        </ul>
        {tab === 'all' && nextAfter && (
          <div class="more">
            <button type="button" class="btn ghost" data-testid="load-more" disabled={loading} onClick={() => loadAll(nextAfter)}>
              {t('inbox.load_more')}
            </button>
          </div>
        )}
      </section>
      <section class="detail-pane">
        {selected ? (
          <Conversation key={selected} tenant={tenant} id={selected} session={session} staff={staff} onChanged={changed} />
        ) : (
          <div class="placeholder">
            <p>{t('inbox.pick')}</p>
          </div>
        )}
      </section>
    </div>
  );
}

function WaitingItem({ item, active, flash }) {
  const classes = ['item'];
  if (active) classes.push('active');
  if (flash) classes.push('flash');
  if (!item.assignee) classes.push('unassigned');
  return (
    <li>
      <a
        href={conversationHash(item.id)}
        class={classes.join(' ')}
        data-testid="inbox-item"
        data-conversation={item.id}
        aria-current={active ? 'true' : undefined}
      >
        <div class="item-top">
          <span class="item-name">{item.name || item.id}</span>
          <span class="item-time" title={String(item.since)}>
            {when(item.updated_at || item.since)}
          </span>
        </div>
        <div class="item-tags">
          <ChannelTag channel={item.channel} />
          <PriorityTag priority={item.priority} />
          {item.queue && <span class="tag">{item.queue}</span>}
          <span class={item.assignee ? 'tag who-tag' : 'tag free'}>{item.assignee || t('inbox.unassigned')}</span>
        </div>
        <div class="item-text">
          {item.intent && <strong>{item.intent}: </strong>}
          {item.reason}
          {item.summary ? ` — ${item.summary}` : ''}
        </div>
      </a>
    </li>
  );
}

function AnyItem({ item, active }) {
  return (
    <li>
      <a
        href={conversationHash(item.id)}
        class={active ? 'item active' : 'item'}
        data-testid="inbox-item"
        data-conversation={item.id}
        aria-current={active ? 'true' : undefined}
      >
        <div class="item-top">
          <span class="item-name">{item.id}</span>
          <span class="item-time">{when(item.updated_at)}</span>
        </div>
        <div class="item-tags">
          <ChannelTag channel={item.channel} />
          <span class={`tag st-${(item.status && item.status.status) || 'x'}`}>{statusText(item.status)}</span>
          {item.intent && <span class="tag">{item.intent}</span>}
          {typeof item.score === 'number' && <span class="tag">{t('conv.score_n', { n: item.score })}</span>}
        </div>
      </a>
    </li>
  );
}
