// The console's only way to the server: same-origin JSON, the session cookie
// sent by the browser, the CSRF token from the session JSON on every write.

let csrf = null;
let onUnauthorized = () => {};

export function setCsrf(token) {
  csrf = token || null;
}

/** Called on any 401 outside sign-in itself (the session is gone). */
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.code = code || '';
    this.retryAfter = retryAfter;
  }
}

const enc = encodeURIComponent;

export const paths = {
  tenant: (t) => `/v1/tenants/${enc(t)}`,
  conversation: (t, id) => `/v1/tenants/${enc(t)}/conversations/${enc(id)}`,
};

/** `query({a: 1, b: ''})` → `?a=1`: empty and null values are left out. */
export function query(params) {
  const parts = [];
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '') continue;
    parts.push(`${enc(key)}=${enc(value)}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

/**
 * `api('GET', path)` or `api('POST', path, body)`: the parsed JSON answer
 * (null for 204). Throws ApiError with the server's `error.message`.
 * `quiet401`: a 401 is the caller's to show (sign-in forms), not a redirect.
 */
export async function api(method, path, body, { quiet401 = false } = {}) {
  const headers = { accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin' };
  if (method !== 'GET') {
    headers['content-type'] = 'application/json';
    if (csrf) headers['X-CSRF-Token'] = csrf;
    if (method !== 'DELETE' || body !== undefined) init.body = JSON.stringify(body === undefined ? {} : body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(0, 'network', error && error.message ? error.message : 'network error');
  }
  if (response.status === 401 && !quiet401) onUnauthorized();
  if (response.status === 204) return null;
  const text = await response.text();
  let json = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  if (!response.ok) {
    const error = json && json.error ? json.error : {};
    throw new ApiError(
      response.status,
      error.code,
      error.message || (text && !json ? text.slice(0, 200) : `HTTP ${response.status}`),
      retryAfter(response.headers.get('retry-after')),
    );
  }
  return json;
}

/** Retry-After in seconds: a number of seconds, or an HTTP date. */
function retryAfter(header) {
  if (!header) return undefined;
  if (/^\s*\d+\s*$/.test(header)) return parseInt(header, 10);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/** The refusals in a Turn's events: agent replies the engine did not send. */
export function refusals(turn) {
  const events = (turn && turn.events) || [];
  return events.filter((event) => event && event.type === 'message.refused');
}
