// Run with `node --test` in this folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { phone, email, date } from './validate.js';

const NOW = Date.UTC(2026, 0, 5, 4); // 2026-01-05 08:00 in Yerevan (+04:00)
const YEREVAN = { now: NOW, utcOffsetMinutes: 240 };

test('phones normalise to E.164', () => {
  assert.deepEqual(phone('+374 (99) 12-34-56'), { ok: true, value: '+37499123456' });
  assert.deepEqual(phone('099 123456', { defaultCountryCode: '374' }), { ok: true, value: '+37499123456' });
  assert.deepEqual(phone('8 912 345 67 89', { defaultCountryCode: '7' }), { ok: true, value: '+79123456789' });
  assert.deepEqual(phone('call me'), { ok: false, reason: 'phone-characters' });
  assert.deepEqual(phone('+1234'), { ok: false, reason: 'phone-length' });
});

test('emails keep the local part and lowercase the domain', () => {
  assert.deepEqual(email(' Ani.P@Mail.AM '), { ok: true, value: 'Ani.P@mail.am' });
  assert.equal(email('ani@mail').ok, false);
  assert.equal(email('two words@mail.am').ok, false);
});

test('dates are local midnight as a UTC instant', () => {
  assert.deepEqual(date('25.12.2026', YEREVAN), { ok: true, value: Date.UTC(2026, 11, 24, 20) });
  assert.deepEqual(date('2026-01-06', YEREVAN), { ok: true, value: Date.UTC(2026, 0, 5, 20) });
});

test('relative days in three languages', () => {
  const tomorrow = Date.UTC(2026, 0, 5, 20);
  for (const word of ['tomorrow', 'Завтра', 'վաղը']) assert.deepEqual(date(word, YEREVAN), { ok: true, value: tomorrow });
});

test('a day and month without a year is the next one to come', () => {
  assert.deepEqual(date('03.01', YEREVAN), { ok: true, value: Date.UTC(2027, 0, 2, 20) });
});

test('impossible and past dates are rejected with their reason', () => {
  assert.deepEqual(date('31.02.2026', YEREVAN), { ok: false, reason: 'date-invalid' });
  assert.deepEqual(date('01.01.2026', YEREVAN), { ok: false, reason: 'date-past' });
  assert.deepEqual(date('someday', YEREVAN), { ok: false, reason: 'date-format' });
});
