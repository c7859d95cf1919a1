// The test host itself: `node --import ./sdk/js/testing/register.mjs --test sdk/js/testing.test.js`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as kv from 'switchboard:plugin/kv@0.2.0';
import * as config from 'switchboard:plugin/config@0.2.0';
import { log } from 'switchboard:plugin/log@0.2.0';
import { reply } from 'switchboard';
import { host, stepInput, NOW } from 'switchboard/testing';

test('a step input is shaped as the host builds it', () => {
  const input = stepInput('greet', { fields: { rooms: 3, city: 'Yerevan', paid: true }, config: { a: 1 }, text: 'hi' });
  assert.deepEqual(input.fields.map((field) => field.name), ['city', 'paid', 'rooms']);
  assert.deepEqual(input.fields[2].value, { tag: 'number', val: 3 });
  assert.equal(input.now, BigInt(NOW));
  assert.equal(input.config, '{"a":1}');
  assert.equal(input.message.text, 'hi');
  assert.equal(stepInput('greet').config, '', 'no config is the empty text');
});

test('the host imports are the test host', () => {
  host.reset({ settings: { region: 'am' }, secrets: { token: 't' } });
  kv.set('count', new Uint8Array([1]));
  assert.deepEqual([...kv.get('count')], [1]);
  kv.delete('count');
  assert.equal(kv.get('count'), undefined);
  assert.equal(config.get('region'), 'am');
  assert.equal(config.secret('token'), 't');
  log('info', 'said');
  assert.deepEqual(host.logs, [['info', 'said']]);
  assert.equal(reply('x').val.text, 'x', '`switchboard` is the SDK');
});
