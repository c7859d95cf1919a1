// Switchboard web chat widget. Add it to any page with:
//   <script src="https://HOST/widget.js" data-tenant="NAME"></script>
// It keeps a session token in localStorage, so a reload continues the same
// conversation, and renders quick replies as buttons. It talks over a
// WebSocket, which also brings agents' replies and reminders as they happen,
// and falls back to plain HTTP posts when the socket cannot connect.
(function () {
  'use strict';
  var script = document.currentScript;
  var tenant = script && script.getAttribute('data-tenant');
  if (!tenant) { console.error('switchboard: data-tenant is missing'); return; }
  var base = new URL(script.src, location.href).origin;
  var key = 'switchboard:' + tenant;
  // Ids come from the browser's CSPRNG: a session id is the visitor's only
  // credential for their conversation, so it must not be guessable.
  function randomHex(bytes) {
    var values = crypto.getRandomValues(new Uint8Array(bytes));
    var hex = '';
    for (var i = 0; i < values.length; i++) hex += (values[i] < 16 ? '0' : '') + values[i].toString(16);
    return hex;
  }
  var session = localStorage.getItem(key + ':session');
  if (!session) {
    // 128 bits; the server takes 1-200 of [A-Za-z0-9._-].
    session = 'web-' + randomHex(16);
    localStorage.setItem(key + ':session', session);
  }
  var history = JSON.parse(localStorage.getItem(key + ':history') || '[]');
  var locale = (navigator.language || 'en').slice(0, 2);
  // For tests and embedders: which transport is in use.
  var state = window.switchboardWidget = { transport: 'connecting', session: session };

  var style = document.createElement('style');
  style.textContent =
    '.sb-bubble{position:fixed;right:20px;bottom:20px;width:56px;height:56px;border-radius:50%;border:0;background:#2b59c3;color:#fff;font-size:26px;cursor:pointer;box-shadow:0 2px 8px #0004;z-index:99999}' +
    '.sb-panel{position:fixed;right:20px;bottom:88px;width:340px;max-width:calc(100vw - 40px);height:460px;display:none;flex-direction:column;background:#fff;border-radius:12px;box-shadow:0 4px 24px #0003;font:14px/1.4 system-ui,sans-serif;z-index:99999;overflow:hidden}' +
    '.sb-panel.sb-open{display:flex}.sb-log{flex:1;overflow-y:auto;padding:12px}' +
    '.sb-msg{margin:6px 0;padding:8px 10px;border-radius:10px;max-width:85%;white-space:pre-wrap;word-wrap:break-word}' +
    '.sb-bot{background:#f0f2f7}.sb-you{background:#2b59c3;color:#fff;margin-left:auto}' +
    '.sb-replies{display:flex;flex-wrap:wrap;gap:6px;margin:4px 0 8px}.sb-replies button{border:1px solid #2b59c3;background:#fff;color:#2b59c3;border-radius:14px;padding:4px 10px;cursor:pointer}' +
    '.sb-form{display:flex;border-top:1px solid #e5e5e5}.sb-form input{flex:1;border:0;padding:12px;font:inherit;outline:none}.sb-form button{border:0;background:#2b59c3;color:#fff;padding:0 16px;cursor:pointer}';
  document.head.appendChild(style);

  var bubble = document.createElement('button');
  bubble.className = 'sb-bubble'; bubble.setAttribute('aria-label', 'Chat'); bubble.textContent = '💬';
  var panel = document.createElement('div');
  panel.className = 'sb-panel'; panel.setAttribute('role', 'dialog');
  var log = document.createElement('div'); log.className = 'sb-log'; log.setAttribute('aria-live', 'polite');
  var form = document.createElement('form'); form.className = 'sb-form';
  var input = document.createElement('input'); input.placeholder = 'Type a message…'; input.setAttribute('aria-label', 'Message');
  var send = document.createElement('button'); send.type = 'submit'; send.textContent = 'Send';
  form.appendChild(input); form.appendChild(send);
  panel.appendChild(log); panel.appendChild(form);
  document.body.appendChild(panel); document.body.appendChild(bubble);
  bubble.addEventListener('click', function () { panel.classList.toggle('sb-open'); input.focus(); });
  if (script.getAttribute('data-open') === 'true') panel.classList.add('sb-open');

  function remember(entry) {
    history.push(entry);
    if (history.length > 200) history = history.slice(-200);
    localStorage.setItem(key + ':history', JSON.stringify(history));
  }

  function show(entry) {
    var item = document.createElement('div');
    item.className = 'sb-msg ' + (entry.who === 'you' ? 'sb-you' : 'sb-bot');
    item.textContent = entry.text;
    log.appendChild(item);
    log.querySelectorAll('.sb-replies').forEach(function (old) { old.remove(); });
    if (entry.replies && entry.replies.length) {
      var row = document.createElement('div'); row.className = 'sb-replies';
      entry.replies.forEach(function (reply) {
        var button = document.createElement('button'); button.type = 'button'; button.textContent = reply.title;
        button.addEventListener('click', function () { post(reply.title, reply.payload); });
        row.appendChild(button);
      });
      log.appendChild(row);
    }
    log.scrollTop = log.scrollHeight;
  }

  history.forEach(show);

  function received(reply) {
    var entry = { who: 'bot', text: reply.text, replies: reply.quick_replies || [] };
    remember(entry); show(entry);
  }

  var socket = null;
  var retries = 0;
  function connect() {
    if (!('WebSocket' in window)) { state.transport = 'http'; return; }
    var url = base.replace(/^http/, 'ws') + '/v1/tenants/' + encodeURIComponent(tenant) +
      '/chat/' + encodeURIComponent(session) + '/ws';
    var opening = new WebSocket(url);
    opening.onopen = function () { socket = opening; retries = 0; state.transport = 'websocket'; };
    opening.onmessage = function (event) {
      var frame = JSON.parse(event.data);
      if (frame.type === 'reply') received(frame);
      else if (frame.type === 'error') show({ who: 'bot', text: '⚠ ' + frame.error.message });
    };
    opening.onclose = function () {
      socket = null;
      state.transport = 'http';
      // Reconnect with backoff; posts go over HTTP meanwhile.
      retries += 1;
      if (retries <= 8) setTimeout(connect, Math.min(30000, 500 * Math.pow(2, retries)));
    };
  }
  connect();

  function post(text, payload) {
    var mine = { who: 'you', text: text };
    remember(mine); show(mine);
    var message = {
      text: text, payload: payload || null,
      message_id: session + ':' + Date.now() + ':' + randomHex(16)
    };
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ text: message.text, payload: message.payload, message_id: message.message_id, locale: locale }));
      return;
    }
    fetch(base + '/v1/tenants/' + encodeURIComponent(tenant) + '/messages', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        contact: { id: session, locale: locale },
        channel: 'webchat', text: message.text, payload: message.payload, message_id: message.message_id
      })
    }).then(function (response) { return response.json(); }).then(function (body) {
      if (body.error) { show({ who: 'bot', text: '⚠ ' + body.error.message }); return; }
      body.replies.forEach(received);
    }).catch(function () { show({ who: 'bot', text: '⚠ Connection problem. Please try again.' }); });
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = '';
    post(text, null);
  });
})();
