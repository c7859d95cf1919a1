// Validate and normalise what customers type for a phone number, an email
// address or a date. Pure functions: `node --test` runs their tests as is.
//
// Each returns `{ ok: true, value }` with the normalised value, or
// `{ ok: false, reason }` with a reason key that app.js turns into a message
// in the customer's language.

const DAY_MS = 86_400_000;

/** Phones become E.164 (`+37499123456`). A leading 0 takes the default country code. */
export function phone(input, { defaultCountryCode = '' } = {}) {
  const compact = input.trim().replace(/[\s\-().]/g, '');
  let digits;
  if (compact.startsWith('+')) digits = compact.slice(1);
  else if (compact.startsWith('00')) digits = compact.slice(2);
  else if (compact.startsWith('0') && defaultCountryCode) digits = defaultCountryCode + compact.slice(1);
  else if (compact.startsWith('8') && defaultCountryCode === '7' && compact.length === 11) digits = '7' + compact.slice(1);
  else digits = compact;
  if (!/^\d+$/.test(digits)) return { ok: false, reason: 'phone-characters' };
  if (digits.length < 8 || digits.length > 15) return { ok: false, reason: 'phone-length' };
  return { ok: true, value: '+' + digits };
}

/** Emails keep their local part and lowercase their domain. */
export function email(input) {
  const trimmed = input.trim();
  const match = /^([^\s@]+)@([^\s@]+\.[^\s@.]{2,})$/.exec(trimmed);
  if (!match) return { ok: false, reason: 'email' };
  return { ok: true, value: `${match[1]}@${match[2].toLowerCase()}` };
}

const RELATIVE_DAYS = new Map([
  ['today', 0], ['сегодня', 0], ['այսօր', 0],
  ['tomorrow', 1], ['завтра', 1], ['վաղը', 1], ['վաղ', 1],
  ['послезавтра', 2], ['day after tomorrow', 2], ['վաղը չէ մյուս օրը', 2],
]);

/**
 * Dates become the UTC instant of local midnight on that day.
 * Accepts `25.12.2026`, `25/12/2026`, `2026-12-25`, `25.12` (this year or
 * next, whichever is not past) and words for today and tomorrow in English,
 * Russian and Armenian. `now` is the step's time (ms, UTC).
 */
export function date(input, { now, utcOffsetMinutes = 0, allowPast = false }) {
  const offset = utcOffsetMinutes * 60_000;
  const todayLocal = Math.floor((now + offset) / DAY_MS) * DAY_MS;
  const words = input.trim().toLowerCase().replace(/[.!?,]+$/, '');
  let local;
  if (RELATIVE_DAYS.has(words)) {
    local = todayLocal + RELATIVE_DAYS.get(words) * DAY_MS;
  } else {
    let year, month, day;
    let match;
    if ((match = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(words))) [, year, month, day] = match.map(Number);
    else if ((match = /^(\d{1,2})[./](\d{1,2})[./](\d{4})$/.exec(words))) [, day, month, year] = match.map(Number);
    else if ((match = /^(\d{1,2})[./](\d{1,2})$/.exec(words))) {
      [, day, month] = match.map(Number);
      year = new Date(todayLocal).getUTCFullYear();
      if (Date.UTC(year, month - 1, day) < todayLocal) year += 1;
    } else return { ok: false, reason: 'date-format' };
    local = Date.UTC(year, month - 1, day);
    const check = new Date(local);
    if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) {
      return { ok: false, reason: 'date-invalid' };
    }
  }
  if (!allowPast && local < todayLocal) return { ok: false, reason: 'date-past' };
  return { ok: true, value: local - offset };
}
