// A test host for a plugin's `app.js`, in Node: `switchboard plugin test`
// (or `node --import <sdk>/testing/register.mjs --test`) runs a plugin's
// tests with `switchboard` and the host's imports (`switchboard:plugin/kv`,
// `config`, `log`) resolved to this, so the adapter itself, not only the
// logic under it, is tested in JavaScript:
//
//   import { stepInput, host } from 'switchboard/testing';
//   import { handler } from './app.js';
//
//   test('greets', () => {
//     host.reset({ settings: { region: 'am' } });
//     const [decision] = handler.run(stepInput('greet', { config: { greeting: 'Barev' } }));
//     assert.equal(decision.val.text, 'Barev, there!');
//   });

/** What `now` is, unless a test says: 2026-01-05T08:00:00Z, in Unix ms. */
export const NOW = 1767600000000;

/** The host's side while a test runs: kv, settings, secrets, and what was logged. */
export const host = {
  kv: new Map(),
  settings: {},
  secrets: {},
  logs: [],
  /** Start afresh, with these settings, secrets and kv entries. */
  reset({ settings = {}, secrets = {}, kv = {} } = {}) {
    this.kv = new Map(Object.entries(kv));
    this.settings = { ...settings };
    this.secrets = { ...secrets };
    this.logs = [];
  },
};

/** A field's value from plain JavaScript: text, a number, a boolean, or a `{ tag, val }` as it is. */
export function value(raw) {
  if (typeof raw === 'string') return { tag: 'text', val: raw };
  if (typeof raw === 'number') return { tag: 'number', val: raw };
  if (typeof raw === 'boolean') return { tag: 'boolean', val: raw };
  return raw;
}

/** A step input as the host would build it; `config` is the tenant's config (an object). */
export function stepInput(step, {
  fields = {},
  config,
  text,
  intent,
  displayName,
  locale = 'en',
  contactId = 'test:1',
  channel = 'webchat',
  score = 0,
  now = NOW,
} = {}) {
  return {
    tenant: 'test',
    conversation: contactId,
    step,
    channel,
    contact: { id: contactId, displayName, locale },
    intent,
    message: text === undefined ? undefined : { text, payload: undefined, receivedAt: BigInt(now) },
    fields: Object.keys(fields).sort().map((name) => ({ name, value: value(fields[name]) })),
    score,
    now: BigInt(now),
    config: config === undefined ? '' : JSON.stringify(config),
  };
}
