// plugins/pricing-calculator/src/tests.rs, for the two ported models: the
// port must quote what the Rust plugin quotes. `node --test host/bench/peers/`

'use strict';

const assert = require('node:assert/strict');
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const { test } = require('node:test');
const { quote } = require('./pricing.js');

const config = (name) => readFileSync(join(__dirname, '../../../plugins/pricing-calculator/config', name), 'utf8');
const MOVING = config('moving.json');
const CATALOG = config('catalog.json');

/** `testing::input`'s defaults: English, 2026-01-01. */
const input = (fields, { locale = 'en', now = 1_767_225_600_000 } = {}) => ({
  contact: { id: 'c', locale },
  fields,
  now,
});
const text = (value) => ({ text: value });

test('complete inputs give an exact total with every modifier itemised', () => {
  const result = quote(
    MOVING,
    input({ urgency: text('Express'), complexity: text('stairs'), distance_km: { number: 25 } }),
  );
  assert.deepEqual(result.total, { exact: 3_325_000 });
  assert.equal(result.currency, 'AMD');
  assert.deepEqual(
    result.line_items.map((item) => item.label),
    ['Move, up to 2 rooms', 'Urgency (express)', 'Complexity (stairs)', 'Distance beyond 10 km'],
  );
  assert.equal(result.factors, undefined);
  assert.equal(result.line_items.reduce((sum, item) => sum + item.total_minor, 0), 3_325_000);
});

test('missing inputs widen the quote into a range and name the factors', () => {
  const result = quote(MOVING, input({ urgency: text('standard') }));
  assert.deepEqual(result.total, { range: [2_500_000, 4_500_000] });
  assert.deepEqual(result.factors, ['Complexity', 'Distance beyond 10 km']);
});

test('the minimum price lifts small quotes and shows as a line', () => {
  const result = quote(
    MOVING,
    input({ urgency: text('standard'), complexity: text('simple'), distance_km: { number: 3 } }, { locale: 'ru' }),
  );
  assert.deepEqual(result.total, { exact: 2_500_000 });
  assert.equal(result.line_items.at(-1).label, 'Минимальный заказ');
});

test('quotes stay valid for the configured hours', () => {
  assert.equal(quote(MOVING, input({}, { now: 1_000 })).valid_until, 1_000 + 72 * 3_600_000);
});

test('catalog orders aggregate skus and apply volume discounts', () => {
  const items = Array.from({ length: 120 }, (_, n) => text(n % 2 === 0 ? 'box-m' : 'tape*2'));
  const result = quote(CATALOG, input({ items: { list: items } }));
  // 60 box-m at 5% off 4.00 = 3.80; 120 tape at 12% off 3.00 = 2.64
  assert.deepEqual(result.total, { exact: 60 * 380 + 120 * 264 });
});

test('unknown options and bad input are typed errors', () => {
  const refusal = (kind, pattern) => (error) => error.kind === kind && pattern.test(error.message);
  assert.throws(() => quote(MOVING, input({ urgency: text('yesterday') })), refusal('invalid_input', /urgency/));
  assert.throws(() => quote('{"currency": 5}', input({})), refusal('invalid_config', /currency/));
  assert.throws(() => quote(MOVING, input({ distance_km: { number: -4 } })), refusal('invalid_input', /negative/));
  const order = (...skus) => input({ items: { list: skus.map(text) } });
  assert.throws(() => quote(CATALOG, order('tape*-1')), refusal('invalid_input', /quantity/));
  assert.throws(() => quote(CATALOG, order('piano')), refusal('invalid_input', /SKU/));
});
