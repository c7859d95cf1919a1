import { Fragment } from 'preact';
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api, paths, refusals } from '../api.js';
import { t, tOr } from '../i18n.js';
import { fieldValue, fullTime, localInput, shortHash, when } from '../format.js';
import { subscribe } from '../live.js';
import { ChannelTag, Empty, PriorityTag, statusText } from '../components/bits.jsx';

const CLOSE_REASONS = ['resolved', 'spam', 'duplicate', 'no_answer', 'other'];
const TRANSCRIPT_EVENTS = new Set([
  'message.received',
  'message.sent',
  'message.refused',
  'handoff.requested',
  'handoff.returned',
  'conversation.assigned',
  'conversation.closed',
  'approval.decided',
]);

export function Conversation({ tenant, id, session, staff, onChanged }) {
  const [data, setData] = useState(null);
  const [loadError, setLoadError] = useState(null);
  const [notice, setNotice] = useState(null);
  const [busy, setBusy] = useState(false);
  const base = paths.conversation(tenant, id);

  const load = useCallback(async () => {
    try {
      const answer = await api('GET', base);
      setData(answer);
      setLoadError(null);
    } catch (failure) {
      setLoadError(failure.status === 404 ? t('conv.not_found') : failure.message);
    }
  }, [base]);

  useEffect(() => {
    load();
  }, [load]);

  // Events for this conversation: fetch it again (debounced).
  useEffect(() => {
    let pending = null;
    const off = subscribe((message) => {
      if (message.kind === 'open' || (message.kind === 'event' && message.event.conversation === id)) {
        clearTimeout(pending);
        pending = setTimeout(load, 200);
      }
    });
    return () => {
      off();
      clearTimeout(pending);
    };
  }, [id, load]);

  /** Run an action; show a refusal or an error; then look again. */
  const act = async (method, path, body, done) => {
    setBusy(true);
    setNotice(null);
    try {
      const turn = await api(method, path, body);
      const refused = refusals(turn);
      if (refused.length) {
        const event = refused[refused.length - 1];
        setNotice({
          kind: 'warn',
          text: t('conv.refused', { reason: (event.data && event.data.reason) || '?' }),
        });
        return false;
      }
      if (done) setNotice({ kind: 'ok', text: done });
      return true;
    } catch (failure) {
      setNotice({ kind: 'error', text: failure.status === 0 ? t('error.network') : failure.message });
      return false;
    } finally {
      setBusy(false);
      await load();
      onChanged();
    }
  };

  if (loadError && !data) {
    return (
      <div class="conv">
        <ConvHead id={id} />
        <p class="alert" role="alert">
          {loadError}
        </p>
      </div>
    );
  }
  if (!data || !data.conversation) {
    return (
      <div class="conv">
        <ConvHead id={id} />
        <Empty>{t('common.loading')}</Empty>
      </div>
    );
  }

  const conversation = data.conversation;
  const events = data.events || [];
  // The server sends the window and the approval beside the conversation;
  // inside it is read too.
  const messaging = data.window || conversation.window || { applies: false };
  const approval = data.approval !== undefined ? data.approval : conversation.approval || null;
  const status = conversation.status || {};
  const assignee = status.status === 'human' ? status.assignee || null : (conversation.route && conversation.route.assignee) || null;
  const handoff = [...events].reverse().find((event) => event.type === 'handoff.requested');
  const card = handoff && handoff.data ? handoff.data.card || handoff.data : null;
  const title = (conversation.contact && conversation.contact.display_name) || (card && card.name) || conversation.id;

  return (
    <div class="conv">
      <ConvHead id={id} title={title} conversation={conversation} />
      {notice && (
        <p class={`notice ${notice.kind}`} role={notice.kind === 'ok' ? 'status' : 'alert'} data-testid="notice">
          {notice.text}
          <button type="button" class="x" aria-label={t('common.dismiss')} onClick={() => setNotice(null)}>
            ×
          </button>
        </p>
      )}
      <Actions
        base={base}
        session={session}
        staff={staff}
        assignee={assignee}
        status={status}
        busy={busy}
        act={act}
      />
      <div class="conv-body">
        <div class="conv-main">
          {card && <HandoffCard card={card} at={handoff.at} />}
          {approval && <Approval base={base} approval={approval} busy={busy} act={act} />}
          <Transcript events={events} />
          <Composer base={base} messaging={messaging} busy={busy} act={act} />
        </div>
        <aside class="conv-side">
          <Details conversation={conversation} />
          <Fields conversation={conversation} />
          <Timers base={base} conversation={conversation} busy={busy} act={act} />
          <Pins pins={data.plugin_pins} />
          <LinkIdentity tenant={tenant} id={id} setNotice={setNotice} />
          <Events events={events} />
        </aside>
      </div>
    </div>
  );
}

function ConvHead({ id, title, conversation }) {
  return (
    <div class="conv-head">
      <a class="btn ghost back" href="#/inbox" data-testid="back">
        <span aria-hidden="true">←</span> {t('common.back')}
      </a>
      <div class="conv-title">
        <h2>{title || id}</h2>
        <div class="conv-sub">
          {conversation && <ChannelTag channel={conversation.channel} />}
          {conversation && <span class={`tag st-${(conversation.status && conversation.status.status) || 'x'}`}>{statusText(conversation.status)}</span>}
          <span class="muted mono">{id}</span>
        </div>
      </div>
    </div>
  );
}

function Actions({ base, session, staff, assignee, status, busy, act }) {
  const [reason, setReason] = useState('resolved');
  const mine = session.staff && assignee === session.staff;
  const ended = status.status === 'ended';
  const people = [...staff];
  if (assignee && !people.some((person) => person.id === assignee)) people.push({ id: assignee, name: assignee });
  return (
    <div class="actions">
      <button
        type="button"
        class="btn primary"
        data-testid="take"
        disabled={busy || !session.staff || mine}
        onClick={() => act('POST', `${base}/assign`, { assignee: session.staff }, t('conv.taken'))}
      >
        {mine ? t('conv.yours') : t('conv.take')}
      </button>
      <label class="inline">
        <span>{t('conv.assign')}</span>
        <select
          data-testid="assign-select"
          value={assignee || ''}
          disabled={busy}
          onChange={(event) => {
            const value = event.currentTarget.value;
            act('POST', `${base}/assign`, { assignee: value || null }, value ? t('conv.assigned_to', { who: value }) : t('conv.unassigned'));
          }}
        >
          <option value="">{t('conv.nobody')}</option>
          {people.map((person) => (
            <option value={person.id} key={person.id}>
              {person.name && person.name !== person.id ? `${person.name} (${person.id})` : person.id}
            </option>
          ))}
        </select>
      </label>
      <button
        type="button"
        class="btn"
        data-testid="hand-back"
        disabled={busy || ended}
        onClick={() => act('POST', `${base}/hand-back`, {}, t('conv.handed_back'))}
      >
        {t('conv.hand_back')}
      </button>
      <span class="close-group">
        <label class="inline">
          <span class="sr-only">{t('conv.close_reason')}</span>
          <select data-testid="close-reason" value={reason} onChange={(event) => setReason(event.currentTarget.value)}>
            {CLOSE_REASONS.map((value) => (
              <option value={value} key={value}>
                {t(`close.${value}`)}
              </option>
            ))}
          </select>
        </label>
        <button
          type="button"
          class="btn danger"
          data-testid="close"
          disabled={busy || ended}
          onClick={() => act('POST', `${base}/close`, { reason }, t('conv.closed'))}
        >
          {t('conv.close')}
        </button>
      </span>
    </div>
  );
}

function HandoffCard({ card, at }) {
  const rows = [
    ['card.contact', card.contact],
    ['card.channel', card.channel && tOr(`channel.${card.channel}`, card.channel)],
    ['card.intent', card.intent],
    ['card.queue', card.queue],
    ['card.reason', card.reason],
  ].filter(([, value]) => value);
  const fields = Object.entries(card.fields || {});
  return (
    <section class="card handoff" data-testid="handoff-card">
      <div class="card-title">
        <h3>{card.name || card.contact || t('card.title')}</h3>
        <PriorityTag priority={card.priority} />
        <span class="muted small" title={fullTime(at)}>
          {when(at)}
        </span>
      </div>
      {card.summary && <p class="summary">{card.summary}</p>}
      {card.suggested_next_step && (
        <p class="next">
          <strong>{t('card.next')}: </strong>
          {card.suggested_next_step}
        </p>
      )}
      <dl class="kv">
        {rows.map(([key, value]) => (
          <Fragment key={`${key}`}>
            <dt>{t(key)}</dt>
            <dd>{value}</dd>
          </Fragment>
        ))}
        {fields.map(([name, value]) => (
          <Fragment key={`f-${name}`}>
            <dt>{name}</dt>
            <dd>{fieldValue(value)}</dd>
          </Fragment>
        ))}
      </dl>
    </section>
  );
}

function Approval({ base, approval, busy, act }) {
  const [note, setNote] = useState('');
  const decide = async (decision) => {
    const body = { decision };
    if (note.trim()) body.note = note.trim();
    const ok = await act('POST', `${base}/decide`, body, decision === 'approve' ? t('approval.approved') : t('approval.rejected'));
    if (ok) setNote('');
  };
  return (
    <section class="card approval" data-testid="approval">
      <h3>{t('approval.title')}</h3>
      <p class="muted">
        {approval.approver ? t('approval.approver', { who: approval.approver }) : t('approval.no_approver')}
        {approval.backup ? ` · ${t('approval.backup', { who: approval.backup })}` : ''}
      </p>
      <label class="field">
        <span>{t('approval.note')}</span>
        <textarea data-testid="decision-note" rows={2} value={note} onInput={(event) => setNote(event.currentTarget.value)} />
      </label>
      <div class="row">
        <button type="button" class="btn primary" data-testid="approve" disabled={busy} onClick={() => decide('approve')}>
          {t('approval.approve')}
        </button>
        <button type="button" class="btn danger" data-testid="reject" disabled={busy} onClick={() => decide('reject')}>
          {t('approval.reject')}
        </button>
      </div>
    </section>
  );
}

function Transcript({ events }) {
  const box = useRef(null);
  const shown = events.filter((event) => TRANSCRIPT_EVENTS.has(event.type));
  const count = shown.length;
  // Keep the newest line in view when one arrives.
  useLayoutEffect(() => {
    const element = box.current;
    if (element) element.scrollTop = element.scrollHeight;
  }, [count]);
  return (
    <section class="transcript" data-testid="transcript" ref={box} aria-label={t('conv.transcript')}>
      {count === 0 && <Empty>{t('conv.no_messages')}</Empty>}
      {shown.map((event, index) => (
        <Line key={`${event.at}-${index}`} event={event} />
      ))}
    </section>
  );
}

function Line({ event }) {
  const data = event.data || {};
  const time = (
    <time class="at" title={fullTime(event.at)}>
      {when(event.at)}
    </time>
  );
  switch (event.type) {
    case 'message.received':
      return (
        <div class="msg in" data-type={event.type}>
          <div class="bubble">{data.text}</div>
          <div class="meta">
            {t('tr.customer')} · {time}
          </div>
        </div>
      );
    case 'message.sent': {
      const agent = data.by === 'agent';
      const who = agent ? (data.agent ? `${t('tr.agent')} · ${data.agent}` : t('tr.agent')) : t('tr.bot');
      return (
        <div class={agent ? 'msg out agent' : 'msg out bot'} data-type={event.type} data-by={data.by || 'bot'}>
          <div class="bubble">{data.text || ''}</div>
          <div class="meta">
            {who}
            {data.template ? ` · ${data.template}` : ''} · {time}
          </div>
        </div>
      );
    }
    case 'message.refused':
      return (
        <div class="sys warn" data-type={event.type} role="note">
          <span class="warn-mark" aria-hidden="true">!</span>
          <span>
            {t('tr.refused', { reason: data.reason || '?' })}
            {data.text ? ` — “${data.text}”` : ''}
          </span>
          {time}
        </div>
      );
    case 'handoff.requested': {
      const card = data.card || {};
      return (
        <div class="sys" data-type={event.type}>
          <span>{t('tr.handoff', { reason: card.reason || data.reason || '' })}</span>
          {time}
        </div>
      );
    }
    case 'handoff.returned':
      return (
        <div class="sys" data-type={event.type}>
          <span>{t('tr.returned')}</span>
          {time}
        </div>
      );
    case 'conversation.assigned':
      return (
        <div class="sys" data-type={event.type}>
          <span>{data.assignee ? t('tr.assigned', { who: data.assignee }) : t('tr.unassigned')}</span>
          {time}
        </div>
      );
    case 'conversation.closed':
      return (
        <div class="sys" data-type={event.type}>
          <span>{t('tr.closed', { state: tOr(`state.${data.state}`, data.state || '') })}</span>
          {time}
        </div>
      );
    case 'approval.decided':
      return (
        <div class="sys" data-type={event.type}>
          <span>{t('tr.decided', { decision: tOr(`decision.${data.decision}`, String(data.decision ?? data.approved ?? '')) })}</span>
          {time}
        </div>
      );
    default:
      return null;
  }
}

function Composer({ base, messaging, busy, act }) {
  const [text, setText] = useState('');
  const closed = messaging.applies && !messaging.open;
  const templates = messaging.templates || [];
  const send = async (body) => {
    const ok = await act('POST', `${base}/reply`, body, t('conv.sent'));
    if (ok) setText('');
  };
  const sendText = () => {
    const body = text.trim();
    if (body) send({ text: body });
  };
  // Outside the window the message goes out through a template (or a tag):
  // the text typed is what it carries.
  const sendTemplate = (name) => {
    const body = text.trim();
    send(body ? { template: name, text: body } : { template: name });
  };
  return (
    <section class="composer">
      {messaging.applies && !closed && (
        <p class="window open" data-testid="window" data-open="true">
          {messaging.closes_at ? t('window.open_until', { time: when(messaging.closes_at) }) : t('window.open')}
        </p>
      )}
      {closed && (
        <div class="window closed" data-testid="window" data-open="false">
          <p>{t('window.closed')}</p>
          <p class="small">{templates.length ? t('window.how') : t('window.no_templates')}</p>
          <div class="templates">
            {templates.map((name) => (
              <button
                type="button"
                class="btn small"
                key={name}
                data-testid="template"
                data-template={name}
                disabled={busy}
                onClick={() => sendTemplate(name)}
              >
                {name}
              </button>
            ))}
          </div>
        </div>
      )}
      <div class="reply">
        <label class="sr-only" for="reply-input">
          {t('conv.reply')}
        </label>
        <textarea
          id="reply-input"
          data-testid="reply-input"
          rows={3}
          placeholder={closed ? t('window.closed_placeholder') : t('conv.reply_placeholder')}
          value={text}
          onInput={(event) => setText(event.currentTarget.value)}
          onKeyDown={(event) => {
            if (event.key === 'Enter' && (event.ctrlKey || event.metaKey) && !closed) {
              event.preventDefault();
              sendText();
            }
          }}
        />
        <button type="button" class="btn primary" data-testid="reply-send" disabled={busy || closed || !text.trim()} onClick={sendText}>
          {t('conv.send')}
        </button>
      </div>
    </section>
  );
}

function Details({ conversation }) {
  const contact = conversation.contact || {};
  const route = conversation.route;
  const rows = [
    ['conv.contact', [contact.display_name, contact.id].filter(Boolean).join(' · ')],
    ['conv.locale', contact.locale],
    ['conv.intent', conversation.intent],
    [
      'conv.score',
      typeof conversation.score === 'number' || conversation.tier
        ? `${conversation.score ?? '—'}${conversation.tier ? ` · ${tOr(`tier.${conversation.tier}`, conversation.tier)}` : ''}`
        : null,
    ],
    ['conv.route', route ? [route.queue, route.assignee, route.backup && `${t('conv.backup')}: ${route.backup}`].filter(Boolean).join(' · ') : null],
    ['conv.flow', conversation.flow_version != null && conversation.flow_version !== '' ? shortHash(conversation.flow_version) : null],
    ['conv.started', conversation.started_at ? when(conversation.started_at) : null],
    ['conv.last_customer', conversation.last_customer_at ? when(conversation.last_customer_at) : null],
  ].filter(([, value]) => value);
  return (
    <section class="card side">
      <h3>{t('conv.details')}</h3>
      <dl class="kv" data-testid="details">
        {rows.map(([key, value]) => (
          <Fragment key={`${key}`}>
            <dt>{t(key)}</dt>
            <dd data-key={key}>
              {key === 'conv.score' && conversation.tier ? <span class={`tier tier-${conversation.tier}`}>{value}</span> : value}
            </dd>
          </Fragment>
        ))}
        {route && route.priority && (
          <>
            <dt>{t('conv.priority')}</dt>
            <dd>
              <PriorityTag priority={route.priority} />
            </dd>
          </>
        )}
      </dl>
    </section>
  );
}

function Fields({ conversation }) {
  const fields = Object.entries(conversation.fields || {});
  const skipped = conversation.skipped || [];
  return (
    <section class="card side" data-testid="fields">
      <h3>{t('conv.fields')}</h3>
      {fields.length === 0 && skipped.length === 0 ? (
        <Empty>{t('conv.no_fields')}</Empty>
      ) : (
        <dl class="kv">
          {fields.map(([name, value]) => (
            <Fragment key={`${name}`}>
              <dt>{name}</dt>
              <dd>{fieldValue(value)}</dd>
            </Fragment>
          ))}
          {skipped.length > 0 && (
            <>
              <dt>{t('conv.skipped')}</dt>
              <dd>{skipped.map(fieldValue).join(', ')}</dd>
            </>
          )}
        </dl>
      )}
    </section>
  );
}

function Timers({ base, conversation, busy, act }) {
  const timers = Object.entries(conversation.timers || {})
    .map(([key, timer]) => ({ key, ...timer }))
    .sort((a, b) => (a.due_at || 0) - (b.due_at || 0));
  return (
    <section class="card side" data-testid="timers">
      <h3>{t('conv.timers')}</h3>
      {timers.length === 0 ? (
        <Empty>{t('conv.no_timers')}</Empty>
      ) : (
        <ul class="timers">
          {timers.map((timer) => (
            <TimerRow key={timer.key} base={base} timer={timer} busy={busy} act={act} />
          ))}
        </ul>
      )}
    </section>
  );
}

function TimerRow({ base, timer, busy, act }) {
  const pending = useRef(null);
  useEffect(() => () => clearTimeout(pending.current), []);
  // Moving sets a timer of the same kind (its key is the kind); a timer
  // under another key is then cancelled, so it is not left behind twice.
  const move = (value) => {
    clearTimeout(pending.current);
    if (!value) return;
    const due = new Date(value);
    if (Number.isNaN(due.getTime()) || due.getTime() === timer.due_at) return;
    pending.current = setTimeout(async () => {
      const ok = await act('POST', `${base}/timers`, { kind: timer.kind, due: due.toISOString() }, t('timer.moved'));
      if (ok && timer.key !== timer.kind) {
        await act('DELETE', `${base}/timers/${encodeURIComponent(timer.key)}`, undefined, t('timer.moved'));
      }
    }, 700);
  };
  return (
    <li class="timer" data-testid="timer" data-key={timer.key} data-kind={timer.kind}>
      <div class="timer-what">
        <strong>{timer.kind}</strong>
        <span class="muted" title={fullTime(timer.due_at)}>
          {fullTime(timer.due_at)}
        </span>
        {timer.cancel_on_reply && <span class="muted small">{t('timer.cancel_on_reply')}</span>}
      </div>
      <div class="timer-do">
        <label class="inline">
          <span class="sr-only">{t('timer.move')}</span>
          <input
            type="datetime-local"
            data-testid="timer-move"
            title={t('timer.move')}
            defaultValue={localInput(timer.due_at)}
            disabled={busy}
            onChange={(event) => move(event.currentTarget.value)}
          />
        </label>
        <button
          type="button"
          class="btn small danger ghost"
          data-testid="timer-cancel"
          disabled={busy}
          onClick={() => act('DELETE', `${base}/timers/${encodeURIComponent(timer.key)}`, undefined, t('timer.cancelled'))}
        >
          {t('timer.cancel')}
        </button>
      </div>
    </li>
  );
}

function Pins({ pins }) {
  const entries = Object.entries(pins || {});
  return (
    <section class="card side" data-testid="pins">
      <h3>{t('conv.pins')}</h3>
      {entries.length === 0 ? (
        <Empty>{t('conv.no_pins')}</Empty>
      ) : (
        <dl class="kv">
          {entries.map(([binding, hash]) => (
            <Fragment key={`${binding}`}>
              <dt>{binding}</dt>
              <dd class="mono" title={String(hash)}>
                {shortHash(hash)}
              </dd>
            </Fragment>
          ))}
        </dl>
      )}
    </section>
  );
}

function LinkIdentity({ tenant, id, setNotice }) {
  const [identity, setIdentity] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    const value = identity.trim();
    if (!value) return;
    setBusy(true);
    try {
      await api('POST', `/v1/tenants/${encodeURIComponent(tenant)}/contacts/link`, { identity: value, conversation: id });
      setNotice({ kind: 'ok', text: t('link.done', { identity: value }) });
      setIdentity('');
    } catch (failure) {
      setNotice({ kind: 'error', text: failure.message });
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card side">
      <h3>{t('link.title')}</h3>
      <p class="muted small">{t('link.hint')}</p>
      <form class="row" onSubmit={submit}>
        <input
          data-testid="link-identity"
          placeholder="telegram:42"
          autocapitalize="off"
          spellcheck={false}
          value={identity}
          onInput={(event) => setIdentity(event.currentTarget.value)}
        />
        <button type="submit" class="btn" data-testid="link-submit" disabled={busy || !identity.trim()}>
          {t('link.submit')}
        </button>
      </form>
    </section>
  );
}

function Events({ events }) {
  return (
    <details class="card side events" data-testid="events">
      <summary>{t('conv.events', { n: events.length })}</summary>
      <ol>
        {events.map((event, index) => (
          <li key={index} title={JSON.stringify(event.data || {})}>
            <span class="mono">{event.type}</span>
            <span class="muted small">{fullTime(event.at)}</span>
          </li>
        ))}
      </ol>
    </details>
  );
}
