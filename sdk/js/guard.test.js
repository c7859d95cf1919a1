// The guard's shapes against the contract, and the guard at work; run with
// `node --test sdk/js`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SHAPES, shapeProblem, guardHandler, decision } from './guard.js';
import { reply, setField, text, refused, config } from './switchboard.js';

const wit = ['types.wit', 'world.wit']
  .map((file) => readFileSync(new URL(`../../wit/since_v0.2.0/${file}`, import.meta.url), 'utf8'))
  .join('\n');

/** The member names of `kind NAME { ... }` in the WIT, comments left out. */
function members(kind, name) {
  const block = wit.match(new RegExp(`\\b${kind} ${name} \\{([^}]*)\\}`));
  assert.ok(block, `${kind} ${name} is in the WIT`);
  return block[1]
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('//'))
    .map((line) => line.replace(/^%/, '').split(/[:(,]/)[0].trim());
}

const kebab = (camel) => camel.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);

test('every shape names the members its WIT type has', () => {
  for (const shape of Object.values(SHAPES)) {
    if (shape.kind === 'record') assert.deepEqual(Object.keys(shape.fields).map(kebab), members('record', shape.name), shape.name);
    if (shape.kind === 'variant') assert.deepEqual(Object.keys(shape.cases).map(kebab), members('variant', shape.name), shape.name);
    if (shape.kind === 'enum') assert.deepEqual(shape.names, members('enum', shape.name), shape.name);
  }
});

test('a well-formed answer has no problem and a malformed one names where it goes wrong', () => {
  assert.equal(shapeProblem(reply('hi'), decision, 'd'), null);
  assert.equal(shapeProblem(setField('slot', { tag: 'datetime', val: 1n }), decision, 'd'), null);
  assert.equal(shapeProblem(setField('slot', { tag: 'datetime', val: 1 }), decision, 'd'), null, 'a whole Number is converted');
  assert.match(shapeProblem(setField('slot', { tag: 'datetime', val: 1.5 }), decision, 'd'), /d\.val\.value\.val is the number 1\.5, not a 64-bit integer/);
  assert.match(
    shapeProblem({ tag: 'schedule', val: { key: 'k', kind: 'k', due: { tag: 'after-ms', val: -5 }, payload: '' } }, decision, 'd'),
    /d\.val\.due\.val is the number -5, not 0 or more/,
  );
  assert.match(shapeProblem({ reply: 'hi' }, decision, 'd'), /not a decision: \{ tag, val \} with tag one of/);
  assert.match(shapeProblem(reply(5), decision, 'd'), /d\.val\.text is the number 5, not a string/);
});

test('the guard turns exceptions and bad answers into crashed errors, and lets refusals through', () => {
  const handler = guardHandler({
    run(input) {
      if (input === 'throw') return null.deposit;
      if (input === 'shape') return reply('not in a list');
      if (input === 'refuse') throw refused('closed');
      return [setField('name', text('Ani'))];
    },
  });
  assert.deepEqual(handler.run('ok'), [setField('name', text('Ani'))]);
  assert.throws(() => handler.run('throw'), (error) => {
    assert.equal(error.tag, 'crashed');
    assert.equal(error.val.kind, 'exception');
    assert.match(error.val.message, /^TypeError: Cannot read properties of null/);
    assert.match(error.val.traceback, /guard\.test\.js/);
    return true;
  });
  assert.throws(() => handler.run('shape'), (error) => {
    assert.deepEqual([error.tag, error.val.kind], ['crashed', 'bad-output']);
    assert.match(error.val.message, /^decisions is an object with keys \["tag","val"\], not an array/);
    return true;
  });
  assert.throws(() => handler.run('refuse'), { tag: 'refused', val: 'closed' });
  assert.throws(() => guardHandler({}), /exports no `handler`/);
});

test('the guarded init parses the config once and runs the plugin\'s own init', () => {
  const seen = [];
  const handler = guardHandler({
    init(text) {
      seen.push(text);
      if (text === '"refuse"') throw refused('not this config');
      if (text === '"boom"') throw new TypeError('boom');
    },
    run: () => [],
  });
  handler.init('{"deposit": 20}');
  assert.deepEqual(seen, ['{"deposit": 20}']);
  const first = config({ config: '{"deposit": 20}' });
  assert.equal(config({ config: '{"deposit": 20}' }), first, 'the parse init kept, not a new one');
  assert.deepEqual(config({ config: '{"deposit": 30}' }), { deposit: 30 }, 'another config is parsed for its call');
  assert.throws(() => handler.init('{not json'), (error) => error.tag === 'invalid-config');
  assert.throws(() => handler.init('"refuse"'), (error) => error.tag === 'refused');
  assert.throws(() => handler.init('"boom"'), (error) => error.tag === 'crashed' && error.val.message === 'TypeError: boom');
  // A plugin without an init of its own still gets one.
  guardHandler({ run: () => [] }).init('{}');
});
