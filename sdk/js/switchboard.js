// Helpers for Switchboard step plugins written in JavaScript.
//
// componentize-js maps the WIT contract to plain objects: records have
// camelCase keys, variants are `{ tag: 'kebab-case', val }`, `s64` values
// (times, money amounts) are BigInts, and throwing a `step-error` variant
// from `run` returns it as the plugin's typed error.

/** The collected field called `name`, as `{ tag, val }`, or undefined. */
export function field(input, name) {
  return input.fields.find((candidate) => candidate.name === name)?.value;
}

/** The tenant's config for this plugin, parsed. Bad JSON refuses the step. */
// The config `init` parsed, as { text, value }: the host snapshots the
// instance after `init`, so every call finds it here already parsed.
let kept;

function parse(text) {
  if (!text.trim()) return {};
  try {
    return JSON.parse(text);
  } catch (error) {
    throw invalidConfig(`config is not JSON: ${error.message}`);
  }
}

/** Parse the binding's config once, for `config` to return: what the `init`
 * the build adds does (see guard.js). Bad JSON refuses the binding. */
export function keepConfig(text) {
  kept = { text, value: parse(text) };
}

/** The tenant's config for this plugin, parsed: by `init` when the binding
 * was made (so no call parses it again), or now when the input carries
 * another. Treat it as read-only. Bad JSON refuses the step. */
export function config(input) {
  if (kept && kept.text === input.config) return kept.value;
  return parse(input.config);
}

export const text = (value) => ({ tag: 'text', val: value });
export const datetime = (ms) => ({ tag: 'datetime', val: BigInt(ms) });

export const setField = (name, value) => ({ tag: 'set-field', val: { name, value } });
// `locale` (optional) says which language the text is in, for a step that
// answers in several: the host keeps the ones in the conversation's language.
const quickReplies = (options) => options.map(([title, payload]) => ({ title, payload }));
export const ask = (fieldName, prompt, options = [], locale = undefined) => ({
  tag: 'ask',
  val: { field: fieldName, prompt, quickReplies: quickReplies(options), locale },
});
export const reply = (message, options = [], locale = undefined) => ({
  tag: 'reply',
  val: { text: message, quickReplies: quickReplies(options), locale },
});

// For an understanding plugin (`classify`, world `classifier`): the intents
// and field values it found, each with a confidence from 0 to 1.
export const classification = ({ intents = [], entities = [], locale = undefined } = {}) => ({
  intents: intents.map(([name, confidence]) => ({ name, confidence })),
  entities: entities.map(([fieldName, value, confidence]) => ({ field: fieldName, value, confidence })),
  locale,
});

export const invalidInput = (message) => ({ tag: 'invalid-input', val: message });
export const invalidConfig = (message) => ({ tag: 'invalid-config', val: message });
export const refused = (message) => ({ tag: 'refused', val: message });
export const unavailable = (message) => ({ tag: 'unavailable', val: message });
