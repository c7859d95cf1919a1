// The guard every JavaScript step runs under.
//
// The build (sdk/js/build.mjs) wraps the plugin's exported `handler` and
// `understanding` with it, so an author writes nothing for it. Without it, an
// exception thrown from `run` traps the component as "wasm `unreachable`
// instruction executed", and an answer of the wrong shape is converted into
// something else (a lone object becomes zero decisions). With it, both become
// `step-error::crashed`, with the exception and its stack, or the path to the
// first value out of shape.
//
// The shapes below are the contract's (wit/since_v0.2.0) as componentize-js
// maps it: records are objects with camelCase keys, variants `{ tag, val }`,
// enums strings, options a value or undefined/null, tuples arrays, and
// 64-bit integers BigInts (or whole Numbers, which componentize-js converts).
// `guard.test.js` checks their names against the WIT.

import { keepConfig } from './switchboard.js';

const MAX_TRACEBACK_CHARS = 4000;

const string = { kind: 'string' };
const f32 = { kind: 'number' };
const f64 = { kind: 'number' };
const s32 = { kind: 'integer' };
const s64 = { kind: 'bigint' };
const u64 = { kind: 'unsigned' };
const bool = { kind: 'boolean' };
const option = (of) => ({ kind: 'option', of });
const list = (of) => ({ kind: 'list', of });
const tuple = (...of) => ({ kind: 'tuple', of });
const record = (name, fields) => ({ kind: 'record', name, fields });
const variant = (name, cases) => ({ kind: 'variant', name, cases });
const enumeration = (name, names) => ({ kind: 'enum', name, names });

const money = record('money', { amountMinor: s64, currency: string });
const scalarCases = { text: string, number: f64, money, datetime: s64, boolean: bool };
const scalar = variant('scalar', scalarCases);
const value = variant('value', { ...scalarCases, list: list(scalar) });
const field = record('field', { name: string, value });
const quickReply = record('quick-reply', { title: string, payload: string });
const reply = record('reply', { text: string, quickReplies: list(quickReply), locale: option(string) });
const ask = record('ask', {
  field: string,
  prompt: option(string),
  quickReplies: list(quickReply),
  locale: option(string),
});
const scoreChange = record('score-change', { delta: s32, reason: string });
const leadTier = enumeration('lead-tier', ['hot', 'warm', 'cold']);
const leadGrade = record('lead-grade', { tier: leadTier, reasons: list(string) });
const lineItem = record('line-item', {
  label: string,
  quantity: f64,
  unitPriceMinor: s64,
  totalMinor: s64,
});
const amount = variant('amount', { exact: s64, range: tuple(s64, s64) });
const quote = record('quote', {
  lineItems: list(lineItem),
  total: amount,
  currency: string,
  validUntil: option(s64),
  factors: list(string),
  locale: option(string),
});
const remedy = variant('remedy', {
  exchange: null,
  storeCredit: money,
  fullRefund: money,
  partialRefund: money,
});
const denial = record('denial', { reason: string, next: string });
const verdict = variant('verdict', { allow: list(remedy), deny: string, denyThen: denial, escalate: string });
const priority = enumeration('priority', ['low', 'normal', 'high', 'urgent']);
const route = record('route', {
  queue: string,
  assignee: option(string),
  backup: option(string),
  priority,
});
const handoffCard = record('handoff-card', {
  reason: string,
  summary: string,
  suggestedNextStep: string,
  queue: option(string),
  priority,
});
const slot = record('slot', { start: s64, end: s64, label: string, resource: option(string) });
const due = variant('due', { at: s64, afterMs: u64, beforeField: tuple(string, u64) });
const timer = record('timer', { key: string, kind: string, due, payload: string });
const event = record('event', { name: string, payload: string });

/** One decision, as `handler.run` returns a list of them. */
export const decision = variant('decision', {
  setField: field,
  clearField: string,
  reply,
  ask,
  score: scoreChange,
  grade: leadGrade,
  quote,
  verdict,
  offerSlots: list(slot),
  route,
  handoff: handoffCard,
  schedule: timer,
  cancelTimer: string,
  emit: event,
});

/** What `understanding.classify` returns. */
export const classification = record('classification', {
  intents: list(record('intent-guess', { name: string, confidence: f32 })),
  entities: list(record('entity', { field: string, value, confidence: f32 })),
  locale: option(string),
});

/** Every shape, by WIT name, for the test that checks them against the WIT. */
export const SHAPES = {
  money, scalar, value, field, reply, ask, quickReply, scoreChange, leadTier, leadGrade, lineItem, amount,
  quote, remedy, verdict, priority, route, handoffCard, slot, due, timer, event, decision, classification,
};

const kebab = (camel) => camel.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);

function describe(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'bigint') return `the BigInt ${value}`;
  if (typeof value === 'object') return `an object with keys ${JSON.stringify(Object.keys(value))}`;
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return `the ${typeof value} ${text.length > 40 ? `${text.slice(0, 37)}...` : text}`;
}

/** Why `value` is not of `shape`, naming where it goes wrong; null if it is. */
export function shapeProblem(value, shape, where) {
  switch (shape.kind) {
    case 'string':
    case 'boolean':
      return typeof value === shape.kind ? null : `${where} is ${describe(value)}, not a ${shape.kind}`;
    case 'number':
      return typeof value === 'number' ? null : `${where} is ${describe(value)}, not a number`;
    case 'integer':
      return Number.isInteger(value) ? null : `${where} is ${describe(value)}, not an integer`;
    case 'bigint':
    case 'unsigned': {
      // componentize-js takes a BigInt, or a Number it converts: only a
      // whole one is exact.
      const whole = typeof value === 'bigint' || Number.isSafeInteger(value);
      if (!whole) return `${where} is ${describe(value)}, not a 64-bit integer (a BigInt, or a whole Number)`;
      if (shape.kind === 'unsigned' && value < 0) return `${where} is ${describe(value)}, not 0 or more`;
      return null;
    }
    case 'option':
      return value === undefined || value === null ? null : shapeProblem(value, shape.of, where);
    case 'list': {
      if (!Array.isArray(value)) return `${where} is ${describe(value)}, not an array`;
      for (const [index, item] of value.entries()) {
        const problem = shapeProblem(item, shape.of, `${where}[${index}]`);
        if (problem) return problem;
      }
      return null;
    }
    case 'tuple': {
      if (!Array.isArray(value) || value.length !== shape.of.length) {
        return `${where} is ${describe(value)}, not an array of ${shape.of.length}`;
      }
      for (const [index, item] of value.entries()) {
        const problem = shapeProblem(item, shape.of[index], `${where}[${index}]`);
        if (problem) return problem;
      }
      return null;
    }
    case 'enum':
      return shape.names.includes(value)
        ? null
        : `${where} is ${describe(value)}, not one of ${JSON.stringify(shape.names)} (${shape.name})`;
    case 'record': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        return `${where} is ${describe(value)}, not a ${shape.name} record`;
      }
      for (const [key, fieldShape] of Object.entries(shape.fields)) {
        const problem = shapeProblem(value[key], fieldShape, `${where}.${key}`);
        if (problem) return problem;
      }
      return null;
    }
    case 'variant': {
      const tags = Object.keys(shape.cases).map(kebab);
      if (typeof value !== 'object' || value === null || !tags.includes(value.tag)) {
        return `${where} is ${describe(value)}, not a ${shape.name}: { tag, val } with tag one of ${JSON.stringify(tags)}`;
      }
      const payload = Object.entries(shape.cases).find(([name]) => kebab(name) === value.tag)[1];
      return payload === null ? null : shapeProblem(value.val, payload, `${where}.val`);
    }
    default:
      throw new Error(`unknown shape ${shape.kind}`);
  }
}

const STEP_ERRORS = ['invalid-input', 'invalid-config', 'refused', 'unavailable', 'crashed'];

/** The `step-error::crashed` for `message`, to throw from an export. */
export function crashed(kind, message, traceback = '') {
  return { tag: 'crashed', val: { kind, message, traceback: traceback.slice(-MAX_TRACEBACK_CHARS) } };
}

/** What an export throws for `error`: a step-error the plugin threw on
 * purpose goes through as it is; anything else is an exception, with its stack. */
function asStepError(error) {
  if (error && typeof error === 'object' && STEP_ERRORS.includes(error.tag)) return error;
  const message = error instanceof Error ? `${error.name}: ${error.message}` : `thrown: ${describe(error)}`;
  return crashed('exception', message, error instanceof Error ? String(error.stack ?? '') : '');
}

function guard(exported, method, shape, name) {
  if (!exported || typeof exported[method] !== 'function') {
    throw new Error(`app.js exports no \`${name}\` with a \`${method}\` function: the world this plugin is built for needs it`);
  }
  const original = exported[method];
  const ownInit = exported.init;
  return {
    ...exported,
    // Every export gets `init` (WIT 0.2.0): it parses the config once,
    // before the host snapshots the instance, then runs the plugin's own
    // `init`, if it has one, guarded like the method.
    init(text) {
      keepConfig(text);
      if (typeof ownInit !== 'function') return;
      try {
        ownInit.call(exported, text);
      } catch (error) {
        throw asStepError(error);
      }
    },
    [method](input) {
      let answer;
      try {
        answer = original.call(exported, input);
      } catch (error) {
        throw asStepError(error);
      }
      const problem = shapeProblem(answer, shape, method === 'run' ? 'decisions' : 'classification');
      if (problem) throw crashed('bad-output', problem);
      return answer;
    },
  };
}

/** `handler` with `run` guarded. */
export const guardHandler = (handler) => guard(handler, 'run', list(decision), 'handler');

/** `understanding` with `classify` guarded. */
export const guardUnderstanding = (understanding) =>
  guard(understanding, 'classify', classification, 'understanding');
