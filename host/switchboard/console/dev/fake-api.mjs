// A local FAKE of the console's API, for working on the UI without the Rust
// server: canned JSON in the shape of the contract, a tiny WebSocket for
// /live, and dist/ at /console/. Not a test and not the real server.
//
//   node build.mjs && node dev/fake-api.mjs     # http://127.0.0.1:5177/console/
//
// Sign in as salon / lilit / secret (agent), salon / anna / secret (admin),
// or with the operator key "operator". The link token "good" signs in as
// lilit. GET /dev/handoff makes a new handoff arrive over the socket;
// GET /dev/drop cuts every socket (the console reconnects).
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist');
const port = Number(process.env.PORT || 5177);
const now = Date.now();
const min = 60_000;
const hour = 60 * min;

const staff = [
  { id: 'lilit', name: 'Lilit', role: 'agent' },
  { id: 'anna', name: 'Anna', role: 'admin' },
  { id: 'aram', name: 'Aram', role: 'agent' },
];
const sessions = new Map();
let failures = 0;
let seq = 100;
const sockets = new Set();

function event(conversation, type, data, at = Date.now()) {
  return { at, tenant: 'salon', conversation, channel: conversation.split(':')[0], type, data };
}

function card(name, contact, channel, intent, reason, summary, queue, priority, fields) {
  return { name, contact, channel, intent, reason, cause: 'asked', summary, suggested_next_step: 'Offer Saturday 11:00 with Mariam', queue, priority, fields, score: 40, tier: 'warm', assignee: null };
}

const conversations = new Map();
function add(id, options) {
  const channel = id.split(':')[0];
  const c = {
    id,
    tenant: 'salon',
    channel,
    contact: { id, display_name: options.name || null, locale: options.locale || 'hy' },
    flow_version: 'f7c2a9e41b08d3',
    status: options.status,
    intent: options.intent || null,
    fields: options.fields || {},
    skipped: [],
    awaiting: null,
    confirmed: false,
    score: options.score ?? null,
    tier: options.tier || null,
    route: options.route || null,
    started_at: now - 3 * hour,
    updated_at: options.updated || now - 10 * min,
    last_customer_at: now - 12 * min,
    profile: {},
    timers: options.timers || {},
    window: options.window || { applies: false, open: true, closes_at: null, templates: [] },
    approval: options.approval || null,
    events: options.events || [],
  };
  conversations.set(id, c);
}

add('whatsapp:37491000001', {
  name: 'Անի Պետրոսյան',
  status: { status: 'human', queue: 'bookings', assignee: null },
  intent: 'booking',
  fields: { service: 'Haircut', day: '2026-12-12', phone: '+374 91 000001' },
  score: 62,
  tier: 'hot',
  route: { queue: 'bookings', assignee: null, backup: 'anna', priority: 'high' },
  window: { applies: true, open: true, closes_at: now + 5 * hour, templates: ['follow_up'] },
  timers: {
    reminder: { kind: 'reminder', due_at: now + 26 * hour, cancel_on_reply: false },
    'silence:booking': { kind: 'silence', due_at: now + 40 * min, cancel_on_reply: true },
  },
  events: [
    event('whatsapp:37491000001', 'message.received', { text: 'Բարև, ուզում եմ գրանցվել սանրվածքի' }, now - 40 * min),
    event('whatsapp:37491000001', 'message.sent', { text: 'Բարև։ Ո՞ր օրն է հարմար։', by: 'bot' }, now - 39 * min),
    event('whatsapp:37491000001', 'message.received', { text: 'Շաբաթ, բայց ուզում եմ խոսել մարդու հետ' }, now - 20 * min),
    event('whatsapp:37491000001', 'field.collected', { field: 'day', value: '2026-12-12' }, now - 20 * min),
    event(
      'whatsapp:37491000001',
      'handoff.requested',
      { card: card('Անի Պետրոսյան', '+374 91 000001', 'whatsapp', 'booking', 'Customer asked for a person', 'Wants a haircut on Saturday.\nAsked for a person twice.', 'bookings', 'high', { service: 'Haircut', day: '2026-12-12' }) },
      now - 19 * min,
    ),
  ],
});
add('telegram:42', {
  name: 'Дмитрий',
  locale: 'ru',
  status: { status: 'human', queue: 'support', assignee: 'lilit' },
  intent: 'order_status',
  fields: { order: 'A-1042' },
  route: { queue: 'support', assignee: 'lilit', backup: null, priority: 'normal' },
  events: [
    event('telegram:42', 'message.received', { text: 'Где мой заказ A-1042?' }, now - 3 * hour),
    event('telegram:42', 'message.sent', { text: 'Сейчас проверю статус заказа.', by: 'bot' }, now - 3 * hour + 2000),
    event('telegram:42', 'handoff.requested', { card: card('Дмитрий', '@dmitry', 'telegram', 'order_status', 'The order API failed', 'Order A-1042 status unknown: plugin failed.', 'support', 'normal', { order: 'A-1042' }) }, now - 3 * hour + 4000),
    event('telegram:42', 'conversation.assigned', { assignee: 'lilit', by: 'lilit' }, now - 2 * hour),
    event('telegram:42', 'message.sent', { text: 'Здравствуйте! Заказ передан курьеру, будет завтра.', by: 'agent', agent: 'lilit' }, now - 2 * hour + min),
    event('telegram:42', 'message.refused', { text: 'Номер карты 4111 1111 1111 1111', reason: 'looks like a card number' }, now - 2 * hour + 2 * min),
  ],
});
add('whatsapp:37491000002', {
  name: 'Gor',
  locale: 'en',
  status: { status: 'human', queue: 'bookings', assignee: null },
  intent: 'pricing',
  route: { queue: 'bookings', assignee: null, backup: null, priority: 'urgent' },
  window: { applies: true, open: false, closes_at: now - 2 * hour, templates: ['follow_up', 'booking_reminder'] },
  events: [
    event('whatsapp:37491000002', 'message.received', { text: 'How much is colouring?' }, now - 30 * hour),
    event('whatsapp:37491000002', 'handoff.requested', { card: card('Gor', '+374 91 000002', 'whatsapp', 'pricing', 'Negative mood', 'Unhappy with the price list.', 'bookings', 'urgent', {}) }, now - 30 * hour + 1000),
  ],
});
add('internal:aram', {
  name: 'Aram (staff)',
  status: { status: 'human', queue: 'approvals', assignee: null },
  intent: 'discount_request',
  fields: { amount: 15000, reason: 'Loyal customer' },
  route: { queue: 'approvals', assignee: null, backup: null, priority: 'normal' },
  approval: { approver: 'anna', backup: 'lilit' },
  events: [
    event('internal:aram', 'message.received', { text: 'Need approval: 15% discount for order A-2001' }, now - 50 * min),
    event('internal:aram', 'handoff.requested', { card: card('Aram', 'aram', 'internal', 'discount_request', 'Approval needed', 'Discount of 15 000 AMD for a loyal customer.', 'approvals', 'normal', { amount: 15000 }) }, now - 49 * min),
  ],
});
add('webchat:7f3a', {
  status: { status: 'bot' },
  intent: 'faq',
  events: [event('webchat:7f3a', 'message.received', { text: 'Are you open on Sunday?' }, now - 5 * min), event('webchat:7f3a', 'message.sent', { text: 'Yes, 10:00–18:00.', by: 'bot' }, now - 5 * min + 900)],
});
add('messenger:88', {
  status: { status: 'ended', state: 'resolved' },
  intent: 'booking',
  events: [event('messenger:88', 'conversation.closed', { state: 'resolved' }, now - 26 * hour)],
});

function inboxItem(c) {
  const handoff = [...c.events].reverse().find((e) => e.type === 'handoff.requested');
  const cd = (handoff && handoff.data.card) || {};
  return {
    id: c.id,
    channel: c.channel,
    queue: c.status.queue,
    assignee: c.status.assignee || null,
    priority: (c.route && c.route.priority) || 'normal',
    intent: c.intent,
    name: c.contact.display_name,
    reason: cd.reason || '',
    cause: cd.cause || '',
    summary: cd.summary || '',
    since: handoff ? handoff.at : c.updated_at,
    updated_at: c.updated_at,
  };
}

function commit(c, type, data) {
  const e = event(c.id, type, data);
  c.events.push(e);
  c.updated_at = e.at;
  const frame = JSON.stringify({ seq: ++seq, event: e });
  for (const socket of sockets) sendFrame(socket, frame);
  return e;
}

function turn(c, events) {
  return { conversation: c.id, replies: [], events, status: c.status, duplicate: false };
}

// KPIs
const units = {
  first_response_time: [1, 'duration'], first_response_in_standard: [0, 'share'], human_response_time: [0, 'duration'], human_response_in_standard: [0, 'share'],
  qualified_lead_share: [1, 'share'], lead_to_meeting: [1, 'share'], handoff_rate: [1, 'share'], booking_conversion: [2, 'share'], messages_to_booking: [2, 'mean'],
  no_show_rate: [2, 'share'], time_to_quote: [3, 'duration'], quote_to_payment: [3, 'share'], quotes_needing_human: [3, 'share'], resolved_without_human: [4, 'share'],
  repeat_contacts_per_order: [4, 'mean'], csat: [4, 'share'], time_to_rma: [5, 'duration'], refund_cycle_time: [5, 'duration'], disputed_share: [5, 'share'],
  renewal_rate: [6, 'share'], revenue_recovered: [6, 'money'], first_contact_resolution: [7, 'share'], resolution_time: [7, 'duration'], ticket_volume: [7, 'count'],
  reopen_rate: [7, 'share'], reactivation_rate: [8, 'share'], pipeline_velocity: [8, 'money_per_day'], approval_time: [9, 'duration'], escalations: [9, 'count'], complete_request_share: [9, 'share'],
};
const definitions = Object.entries(units).map(([id, [scenario, unit]]) => ({
  id,
  scenario,
  title: id.replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase()),
  unit,
  definition: `The definition of ${id} (fake).`,
}));

function fakeValue(id, unit, seed) {
  const r = Math.abs(Math.sin(seed * 9301 + id.length * 49297)) % 1;
  if (['time_to_rma', 'refund_cycle_time', 'disputed_share'].includes(id)) return { value: null, denominator: 0 };
  if (unit === 'duration') return { value: Math.round((id.startsWith('human') ? 120e3 : 12e3) * (0.4 + r * 1.6)), denominator: 40, p90: 300e3 * r };
  if (unit === 'share') return { value: 0.2 + r * 0.7, numerator: Math.round(r * 80), denominator: 100 };
  if (unit === 'count') return { value: Math.round(r * 300) };
  if (unit === 'mean') return { value: 2 + r * 4 };
  if (unit === 'money') return { value: Math.round(r * 12_345_600) };
  return { value: Math.round(r * 9_876_500) };
}

function kpis(url) {
  const from = url.searchParams.get('from') || '2026-11-07';
  const to = url.searchParams.get('to') || '2026-12-06';
  const week = url.searchParams.get('granularity') === 'week';
  const all = (seed) => Object.fromEntries(definitions.map((d) => [d.id, fakeValue(d.id, d.unit, seed)]));
  const series = [];
  for (let day = new Date(`${from}T00:00:00Z`); day <= new Date(`${to}T00:00:00Z`); day = new Date(day.getTime() + (week ? 7 : 1) * 86400e3)) {
    series.push({ start: day.toISOString().slice(0, 10), kpis: all(day.getTime() / 86400e3) });
  }
  const byChannel = {};
  ['webchat', 'whatsapp', 'telegram', 'internal'].forEach((ch, i) => {
    byChannel[ch] = all(i + 3);
  });
  byChannel.internal.first_response_time = { value: null };
  return {
    zone: 'Asia/Yerevan',
    from,
    to,
    granularity: week ? 'week' : 'day',
    total: {
      kpis: all(1),
      funnels: {
        booking: [
          { step: 'started', reached: 120, dropped: 0 },
          { step: 'service', reached: 101, dropped: 19 },
          { step: 'day', reached: 84, dropped: 17 },
          { step: 'closed', reached: 61, dropped: 23 },
        ],
        pricing: [
          { step: 'started', reached: 40, dropped: 0 },
          { step: 'quote', reached: 31, dropped: 9 },
          { step: 'closed', reached: 22, dropped: 9 },
        ],
      },
      terminal_states: { resolved: 70, booked: 61, cancelled: 8 },
      handoffs: { asked: 14, negative: 5, hot_lead: 9, step_failed: 2 },
      step_failures: { timeout: 3, trap: 1 },
      step_failures_by_version: { 'order-status@3f9a1c2b7d4e': 3, 'pricing@a1b2c3d4e5f6': 1 },
      churn_reasons: {},
    },
    by_channel: byChannel,
    by_intent: { booking: all(5), pricing: all(6) },
    series,
    folded_to: 12345,
  };
}

function overview() {
  return {
    tenants: [
      { name: 'salon', display_name: 'Salon Mariam', flow_version: 7, status: 'serving', events_today: 1834, conversations_today: 211, handoffs_today: 19, step_failures_today: 0, error_rate: 0, plugins: [{ binding: 'slots', component: 'sha256:9f2c4e1a7b3d5f6e8a9b0c1d2e3f4a5b6c7d8e9f', seq: 3, canary: null }] },
      { name: 'webshop', display_name: 'Webshop', flow_version: 12, status: 'serving', events_today: 5120, conversations_today: 802, handoffs_today: 51, step_runs_today: 4200, step_failures_today: 37, error_rate: 0.072, plugins: [{ binding: 'order-status', component: '3f9a1c2b7d4e5f60718293a4b5c6d7e8f9', seq: 5, canary: { component: 'b7c8d9e0f1a2b3c4d5e6', percent: 10, shadow: false } }, { binding: 'refunds', component: 'c0ffee1234567890abcdef', seq: 2, canary: null }] },
      { name: 'moving', display_name: null, flow_version: 2, status: 'failed', events_today: 0, conversations_today: 0, handoffs_today: 0, step_failures_today: 0, error_rate: null, plugins: [] },
    ],
    // The server may send a readiness link instead: FAKE_HEALTH=link.
    health: process.env.FAKE_HEALTH === 'link' ? '/readyz' : { ready: true, store: 'sled' },
    metrics: '/metrics',
  };
}

// The smallest WebSocket server: handshake, then text frames out; frames in are ignored.
function upgrade(request, socket) {
  const key = request.headers['sec-websocket-key'];
  const session = sessionOf(request);
  if (!key || !session || !/^\/v1\/tenants\/[^/]+\/live$/.test(request.url)) {
    socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
    return;
  }
  const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  sockets.add(socket);
  socket.on('data', (buffer) => {
    if ((buffer[0] & 0x0f) === 0x8) socket.end();
  });
  socket.on('close', () => sockets.delete(socket));
  socket.on('error', () => sockets.delete(socket));
}

function sendFrame(socket, text) {
  const payload = Buffer.from(text);
  let header;
  if (payload.length < 126) header = Buffer.from([0x81, payload.length]);
  else if (payload.length < 65536) {
    header = Buffer.alloc(4);
    header[0] = 0x81;
    header[1] = 126;
    header.writeUInt16BE(payload.length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = 0x81;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(payload.length), 2);
  }
  socket.write(Buffer.concat([header, payload]));
}

function sessionOf(request) {
  const match = /(?:^|;\s*)sb_session=([^;]+)/.exec(request.headers.cookie || '');
  return match ? sessions.get(match[1]) : null;
}

function send(response, status, body, headers = {}) {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(body === undefined ? '' : JSON.stringify(body));
}
const fail = (response, status, code, message, headers) => send(response, status, { error: { code, message } }, headers);

async function readBody(request) {
  const chunks = [];
  for await (const chunk of request) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString();
  return text ? JSON.parse(text) : {};
}

function startSession(response, who) {
  const id = randomBytes(12).toString('hex');
  const session = { ...who, csrf: randomBytes(8).toString('hex') };
  sessions.set(id, session);
  send(response, 200, session, { 'set-cookie': `sb_session=${id}; Path=/; HttpOnly; SameSite=Strict` });
}

const people = {
  lilit: { role: 'agent', tenant: 'salon', staff: 'lilit', name: 'Lilit' },
  anna: { role: 'admin', tenant: 'salon', staff: 'anna', name: 'Anna' },
};

const server = createServer(async (request, response) => {
  const url = new URL(request.url, 'http://localhost');
  const path = url.pathname;
  const method = request.method;
  try {
    if (path === '/' || path === '/console') return send(response, 302, undefined, { location: '/console/' });
    if (path.startsWith('/console/')) {
      const name = path === '/console/' ? 'index.html' : path.slice('/console/'.length);
      if (!['index.html', 'console.js', 'console.css'].includes(name)) return fail(response, 404, 'not_found', 'no such file');
      const type = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' }[name.split('.').pop()];
      // The real server's policy, so a violation shows up here too.
      const policy =
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
      response.writeHead(200, { 'content-type': type, 'cache-control': 'no-store', 'content-security-policy': policy });
      return response.end(await readFile(join(dist, name)));
    }
    if (path === '/metrics') {
      response.writeHead(200, { 'content-type': 'text/plain' });
      return response.end('# fake metrics\nswitchboard_up 1\n');
    }
    if (path === '/dev/drop') {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      return send(response, 200, { dropped: true });
    }
    if (path === '/dev/handoff') {
      const c = conversations.get('webchat:7f3a');
      c.status = { status: 'human', queue: 'bookings', assignee: null };
      c.route = { queue: 'bookings', assignee: null, backup: null, priority: 'normal' };
      commit(c, 'message.received', { text: 'I want to talk to a person, please' });
      commit(c, 'handoff.requested', { card: card(null, 'web visitor', 'webchat', 'faq', 'Customer asked for a person', 'Asked about Sunday, then for a person.', 'bookings', 'normal', {}) });
      return send(response, 200, { ok: true });
    }

    if (method !== 'GET' && request.headers['content-type'] !== 'application/json') return fail(response, 415, 'content_type', 'send application/json');

    if (path === '/v1/session/login' && method === 'POST') {
      const body = await readBody(request);
      if (failures >= 3) {
        failures = 0;
        return fail(response, 429, 'too_many_attempts', 'too many sign-in attempts', { 'retry-after': '12' });
      }
      if (body.operator_key === 'operator') return startSession(response, { role: 'operator', tenant: null, staff: null, name: 'Operator' });
      const person = people[body.staff];
      if (person && body.tenant === 'salon' && body.password === 'secret') return startSession(response, person);
      failures += 1;
      return fail(response, 401, 'wrong_credentials', 'wrong tenant, staff id or password');
    }
    if (path === '/v1/session/link' && method === 'POST') {
      const body = await readBody(request);
      if (body.token === 'good') return startSession(response, people.lilit);
      return fail(response, 401, 'link_invalid', 'this link was used or has expired');
    }

    const session = sessionOf(request);
    if (!session) return fail(response, 401, 'signed_out', 'sign in first');
    if (method !== 'GET' && request.headers['x-csrf-token'] !== session.csrf) return fail(response, 403, 'csrf', 'missing or wrong X-CSRF-Token');

    if (path === '/v1/session' && method === 'GET') return send(response, 200, session);
    if (path === '/v1/session/logout' && method === 'POST') {
      const match = /(?:^|;\s*)sb_session=([^;]+)/.exec(request.headers.cookie || '');
      sessions.delete(match[1]);
      response.writeHead(204, { 'set-cookie': 'sb_session=; Path=/; Max-Age=0' });
      return response.end();
    }
    if (path === '/v1/admin/overview') {
      if (session.role !== 'operator') return fail(response, 403, 'forbidden', 'operators only');
      return send(response, 200, overview());
    }

    const tenantMatch = /^\/v1\/tenants\/([^/]+)(\/.*)$/.exec(path);
    if (!tenantMatch) return fail(response, 404, 'not_found', 'no such route');
    const [, tenant, rest] = tenantMatch;
    if (session.role === 'operator' || session.tenant !== decodeURIComponent(tenant)) return fail(response, 403, 'forbidden', 'not your tenant');

    if (rest === '/inbox') {
      const q = url.searchParams;
      let list = [...conversations.values()].filter((c) => c.status.status === 'human').map(inboxItem);
      if (q.get('queue')) list = list.filter((i) => i.queue === q.get('queue'));
      if (q.get('assignee') === '-') list = list.filter((i) => !i.assignee);
      else if (q.get('assignee')) list = list.filter((i) => i.assignee === q.get('assignee'));
      if (q.get('channel')) list = list.filter((i) => i.channel === q.get('channel'));
      if (q.get('priority')) list = list.filter((i) => i.priority === q.get('priority'));
      list.sort((a, b) => b.since - a.since);
      return send(response, 200, { conversations: list });
    }
    if (rest === '/conversations') {
      const list = [...conversations.values()]
        .sort((a, b) => b.updated_at - a.updated_at)
        .map((c) => ({ id: c.id, channel: c.channel, status: c.status, intent: c.intent, score: c.score, updated_at: c.updated_at }));
      return send(response, 200, { conversations: list, next_after: null });
    }
    if (rest === '/staff') return send(response, 200, { staff });
    if (rest === '/kpis/definitions') return send(response, 200, definitions);
    if (rest === '/kpis') return send(response, 200, kpis(url));
    if (rest === '/contacts/link' && method === 'POST') {
      const body = await readBody(request);
      if (!/^[a-z]+:.+/.test(body.identity || '')) return fail(response, 400, 'bad_identity', `${JSON.stringify(body.identity)} is not channel:id`);
      return send(response, 200, body);
    }

    const convMatch = /^\/conversations\/([^/]+)(\/.*)?$/.exec(rest);
    if (!convMatch) return fail(response, 404, 'not_found', 'no such route');
    const id = decodeURIComponent(convMatch[1]);
    const action = convMatch[2] || '';
    const c = conversations.get(id);
    if (!c) return fail(response, 404, 'unknown_conversation', 'no such conversation');

    if (action === '' && method === 'GET') {
      // Like the real server: the window and the approval beside the conversation.
      const { events, window, approval, ...conversation } = c;
      return send(response, 200, {
        conversation,
        window,
        approval,
        plugin_pins: { slots: '9f2c4e1a7b3d5f6e8a9b0c1d2e3f4a5b6c7d8e9f00112233445566778899aabb' },
        config_pins: {},
        events,
      });
    }
    if (action === '/timers' && method === 'GET') {
      return send(response, 200, { timers: Object.entries(c.timers).map(([key, t]) => ({ key, ...t })).sort((a, b) => a.due_at - b.due_at) });
    }
    const body = method === 'DELETE' ? {} : await readBody(request);
    if (action === '/assign') {
      c.status = { status: 'human', queue: c.status.queue || 'support', assignee: body.assignee };
      if (c.route) c.route.assignee = body.assignee;
      return send(response, 200, turn(c, [commit(c, 'conversation.assigned', { assignee: body.assignee, by: session.staff })]));
    }
    if (action === '/reply') {
      if (!body.text || !body.text.trim()) return fail(response, 400, 'bad_request', 'text is required');
      if (body.template) return send(response, 200, turn(c, [commit(c, 'message.sent', { text: body.text, template: body.template, by: 'agent', agent: session.staff })]));
      if (c.window.applies && !c.window.open) return send(response, 200, turn(c, [commit(c, 'message.refused', { text: body.text, reason: 'the 24 h window is closed' })]));
      if (/\d{4} ?\d{4} ?\d{4} ?\d{4}/.test(body.text || '')) return send(response, 200, turn(c, [commit(c, 'message.refused', { text: body.text, reason: 'looks like a card number' })]));
      return send(response, 200, turn(c, [commit(c, 'message.sent', { text: body.text, by: 'agent', agent: session.staff })]));
    }
    if (action === '/hand-back') {
      c.status = { status: 'bot' };
      return send(response, 200, turn(c, [commit(c, 'handoff.returned', { by: session.staff })]));
    }
    if (action === '/close') {
      c.status = { status: 'ended', state: body.reason };
      return send(response, 200, turn(c, [commit(c, 'conversation.closed', { state: body.reason })]));
    }
    if (action === '/decide') {
      c.approval = null;
      c.status = { status: 'ended', state: body.decision === 'approve' ? 'approved' : 'rejected' };
      return send(response, 200, turn(c, [commit(c, 'approval.decided', { decision: body.decision, note: body.note || null, by: session.staff }), commit(c, 'conversation.closed', { state: c.status.state })]));
    }
    if (action === '/timers' && method === 'POST') {
      const due = typeof body.due === 'number' ? body.due : Date.parse(body.due);
      if (Number.isNaN(due)) return fail(response, 400, 'bad_due', `due ${JSON.stringify(body.due)} is not RFC 3339`);
      c.timers[body.kind] = { kind: body.kind, due_at: due, cancel_on_reply: false };
      return send(response, 200, turn(c, [commit(c, 'timer.requested', { key: body.kind, kind: body.kind, due_at: due })]));
    }
    const timerMatch = /^\/timers\/(.+)$/.exec(action);
    if (timerMatch && method === 'DELETE') {
      const key = decodeURIComponent(timerMatch[1]);
      if (!c.timers[key]) return fail(response, 404, 'unknown_timer', 'no such pending timer');
      delete c.timers[key];
      return send(response, 200, turn(c, [commit(c, 'timer.cancelled', { key })]));
    }
    return fail(response, 404, 'not_found', 'no such route');
  } catch (error) {
    console.error(error);
    return fail(response, 500, 'internal', String(error));
  }
});
server.on('upgrade', upgrade);
server.listen(port, '127.0.0.1', () => console.log(`fake API on http://127.0.0.1:${port}/console/`));
