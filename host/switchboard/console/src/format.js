// Numbers and times as a person reads them, in the chosen language.
import { currentLang, locale, t } from './i18n.js';

// Browsers without Armenian locale data (Chromium's trimmed ICU among them)
// would print "M12 6": Armenian dates are written here, its numbers and
// times (1 834,5 · 14:05) read as Russian ones do.
const HY_MONTHS = ['հնվ', 'փտվ', 'մրտ', 'ապր', 'մյս', 'հնս', 'հլս', 'օգս', 'սեպ', 'հոկ', 'նոյ', 'դեկ'];
const numberLocale = () => (currentLang() === 'hy' ? 'ru-RU' : locale());
const pad = (n) => String(n).padStart(2, '0');

function dateFormat(options) {
  try {
    return new Intl.DateTimeFormat(locale(), options);
  } catch {
    return new Intl.DateTimeFormat('en-GB', options);
  }
}

function toDate(ms) {
  if (ms === null || ms === undefined || ms === '') return null;
  const date = new Date(typeof ms === 'number' ? ms : Date.parse(ms));
  return Number.isNaN(date.getTime()) ? null : date;
}

/** Milliseconds since the epoch → "6 Dec, 14:05" (or "14:05" today). */
export function when(ms) {
  const date = toDate(ms);
  if (!date) return ms === null || ms === undefined || ms === '' ? '—' : String(ms);
  const now = new Date();
  const today =
    date.getFullYear() === now.getFullYear() && date.getMonth() === now.getMonth() && date.getDate() === now.getDate();
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}`;
  if (currentLang() === 'hy') return today ? time : `${date.getDate()} ${HY_MONTHS[date.getMonth()]}, ${time}`;
  return today
    ? dateFormat({ hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(date)
    : dateFormat({ day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(date);
}

/** The full date and time, for a title attribute or an event list. */
export function fullTime(ms) {
  const date = toDate(ms);
  if (!date) return ms === null || ms === undefined ? '—' : String(ms);
  if (currentLang() === 'hy') {
    const time = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
    return `${date.getDate()} ${HY_MONTHS[date.getMonth()]} ${date.getFullYear()}, ${time}`;
  }
  return dateFormat({
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).format(date);
}

/** "YYYY-MM-DD" of a local date. */
export function isoDay(date) {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** A day "YYYY-MM-DD" → "6 Dec". */
export function shortDay(day) {
  const date = new Date(`${day}T12:00:00`);
  if (Number.isNaN(date.getTime())) return day;
  if (currentLang() === 'hy') return `${date.getDate()} ${HY_MONTHS[date.getMonth()]}`;
  return dateFormat({ day: 'numeric', month: 'short' }).format(date);
}

/** ms → datetime-local input value. */
export function localInput(ms) {
  const date = new Date(ms);
  return `${isoDay(date)}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

export function number(value, digits = 0) {
  try {
    return new Intl.NumberFormat(numberLocale(), { maximumFractionDigits: digits, minimumFractionDigits: digits }).format(value);
  } catch {
    return value.toFixed(digits);
  }
}

/** A duration in ms → "850 ms", "12 s", "4.5 min", "2.1 h". */
export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '—';
  const abs = Math.abs(ms);
  if (abs < 1000) return `${number(ms)} ${t('unit.ms')}`;
  if (abs < 60_000) return `${number(ms / 1000, abs < 10_000 ? 1 : 0)} ${t('unit.s')}`;
  if (abs < 3_600_000) return `${number(ms / 60_000, abs < 600_000 ? 1 : 0)} ${t('unit.min')}`;
  if (abs < 172_800_000) return `${number(ms / 3_600_000, 1)} ${t('unit.h')}`;
  return `${number(ms / 86_400_000, 1)} ${t('unit.d')}`;
}

/** A KPI's value as its unit reads; "—" for null. */
export function kpiValue(unit, value) {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  switch (unit) {
    case 'duration':
      return duration(value);
    case 'share':
      return `${number(value * 100, value < 0.1 && value > 0 ? 1 : 0)} %`;
    case 'count':
      return number(value);
    case 'mean':
      return number(value, 1);
    case 'money':
      return number(value / 100, 2);
    case 'money_per_day':
      return `${number(value / 100, 2)} ${t('unit.per_day')}`;
    default:
      return number(value, 2);
  }
}

/** A KPI value from the API: an object `{value, ...}` or a bare number. */
export function valueOf(entry) {
  if (entry === null || entry === undefined) return null;
  if (typeof entry === 'number') return entry;
  return typeof entry.value === 'number' ? entry.value : null;
}

export function shortHash(hash) {
  if (!hash) return '—';
  const text = String(hash);
  const at = text.lastIndexOf('@');
  if (at >= 0) return `${text.slice(0, at)}@${text.slice(at + 1).slice(0, 12)}`;
  return text.replace(/^sha256:/, '').slice(0, 12);
}

/** A collected field's value, whatever its JSON shape. */
export function fieldValue(value) {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}
