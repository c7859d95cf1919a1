// The pricing step of `plugins/pricing-calculator/src/lib.rs`, ported to
// JavaScript for `switchboard-bench steps --peers`: the same work, so that
// timing it in a JavaScript sandbox compares with timing the wasm guest.
//
// Only the two models the benchmark quotes are ported, `modifiers` and
// `catalog`; a `packages` config is refused. The rest follows the Rust line
// by line: labels per locale, ranges for missing fields, the minimum,
// volume discounts, `sku*quantity`, and Rust's rounding (half away from zero).
//
// Input and quote have the host's serde shape (`switchboard_core::contract`):
// `fields` is an object of `{ text }`, `{ number }`, `{ list: [{ text }] }`…,
// and a quote is `{ line_items, total: { exact } | { range }, currency,
// valid_until, factors?, locale? }`, so `--check` output compares with the
// Rust plugin's decision as JSON.
//
// What it does not port is serde's typed parse of the config (unknown
// fields, wrong types): JSON.parse and the reads below are its work here.
//
// A plain script, no imports: run.mjs evaluates this very text inside
// isolated-vm and node:vm contexts (where it sets `globalThis.pricing`) and
// `require`s it for the in-process path.

'use strict';

const pricing = (() => {
  const HOUR_MS = 3_600_000;

  /** A step's typed refusal, as the Rust `StepError`. */
  class StepError extends Error {
    constructor(kind, message) {
      super(message);
      this.kind = kind; // 'invalid_input' | 'invalid_config'
    }
  }
  const invalidInput = (message) => new StepError('invalid_input', message);
  const invalidConfig = (message) => new StepError('invalid_config', message);

  const has = (object, key) => object != null && Object.prototype.hasOwnProperty.call(object, key);

  /** Rust's `f64::round`: half away from zero (`Math.round` rounds half up). */
  const round = (value) => (value < 0 ? -Math.round(-value) : Math.round(value)) + 0;

  /** The config as JSON text (parsed here, as `parse_config` does) or already parsed. */
  function parseConfig(config) {
    if (typeof config !== 'string') return config;
    const text = config.trim();
    try {
      return JSON.parse(text === '' || text === 'null' ? '{}' : text);
    } catch (error) {
      throw invalidConfig(error.message);
    }
  }

  // `StepInput::text`, `number` (money counts as its minor units) and `list`.
  const field = (input, name) => (has(input.fields, name) ? input.fields[name] : undefined);
  const text = (input, name) => field(input, name)?.text;
  function number(input, name) {
    const value = field(input, name);
    return value === undefined ? undefined : (value.number ?? value.money?.amount_minor);
  }
  const list = (input, name) => field(input, name)?.list;

  /** `Label::get`: in the customer's locale, else English, else any. */
  function label(value, locale) {
    if (typeof value === 'string') return value;
    if (has(value, locale)) return value[locale];
    if (has(value, 'en')) return value.en;
    const first = Object.keys(value).sort()[0]; // a BTreeMap's first value
    return first === undefined ? '' : value[first];
  }

  function item(itemLabel, quantity, unitPriceMinor) {
    return {
      label: itemLabel,
      quantity,
      unit_price_minor: unitPriceMinor,
      total_minor: round(quantity * unitPriceMinor),
    };
  }

  /** Compute the quote for `input` under `config` (JSON text, or parsed). */
  function quote(config, input) {
    config = parseConfig(config);
    if (typeof config.currency !== 'string') throw invalidConfig('missing field `currency`');
    const minimum = config.minimum_minor ?? 0;
    const validHours = config.valid_hours ?? 72;
    const locale = input.contact.locale;
    const lineItems = [];
    const factors = [];
    const models = Object.keys(config.pricing ?? {});
    if (models.length !== 1) throw invalidConfig('`pricing` must name one model');
    const model = config.pricing[models[0]];
    let span;
    switch (models[0]) {
      case 'modifiers':
        span = priceModifiers(model, input, locale, lineItems, factors);
        break;
      case 'catalog':
        span = priceCatalog(model, input, lineItems);
        break;
      default:
        throw invalidConfig(`pricing model \`${models[0]}\` is not ported to JavaScript`);
    }

    let low = round(span.low);
    let high = round(span.high);
    if (high < minimum) {
      const name = locale === 'ru' ? 'Минимальный заказ' : locale === 'hy' ? 'Նվազագույն պատվեր' : 'Minimum order';
      lineItems.push({ label: name, quantity: 1, unit_price_minor: minimum - high, total_minor: minimum - high });
    }
    low = Math.max(low, minimum);
    high = Math.max(high, minimum);
    const result = {
      line_items: lineItems,
      total: low === high ? { exact: low } : { range: [low, high] },
      currency: config.currency,
      valid_until: input.now + validHours * HOUR_MS,
    };
    // Both left out when empty, as the host's serde shape does.
    if (factors.length > 0) result.factors = factors;
    if (locale) result.locale = locale;
    return result;
  }

  function priceModifiers(model, input, locale, lineItems, factors) {
    const { base_minor: base, base_label: baseLabel, modifiers } = model;
    lineItems.push(item(label(baseLabel, locale), 1, base));
    const span = { low: base, high: base };
    for (const modifier of modifiers) {
      const name = label(modifier.label, locale);
      if (modifier.kind === 'multiplier') {
        const { field: fieldName, options, option_labels: optionLabels = {} } = modifier;
        const chosen = text(input, fieldName);
        if (chosen !== undefined) {
          const choice = chosen.trim().toLowerCase();
          if (!has(options, choice)) {
            const expected = `[${Object.keys(options).sort().map((key) => JSON.stringify(key)).join(', ')}]`;
            throw invalidInput(`${fieldName} is ${JSON.stringify(choice)}; expected one of ${expected}`);
          }
          const factor = options[choice];
          const extra = span.low * (factor - 1);
          if (Math.abs(extra) >= 0.5) {
            const optionName = has(optionLabels, choice) ? label(optionLabels[choice], locale) : choice;
            lineItems.push(item(`${name} (${optionName})`, 1, round(extra)));
          }
          span.low *= factor;
          span.high *= factor;
        } else {
          const values = Object.values(options);
          if (values.length === 0) throw invalidConfig(`${fieldName} has no options`);
          span.low *= Math.min(...values);
          span.high *= Math.max(...values);
          factors.push(name);
        }
      } else if (modifier.kind === 'per_unit') {
        const { field: fieldName, unit_minor: unit, included, typical } = modifier;
        const units = number(input, fieldName);
        let lowUnits, highUnits;
        if (units === undefined) {
          factors.push(name);
          [lowUnits, highUnits] = typical;
        } else if (units < 0) {
          throw invalidInput(`${fieldName} cannot be negative`);
        } else {
          lowUnits = highUnits = units;
        }
        const billable = (count) => Math.max(count - included, 0);
        if (lowUnits === highUnits && billable(lowUnits) > 0) lineItems.push(item(name, billable(lowUnits), unit));
        span.low += billable(lowUnits) * unit;
        span.high += billable(highUnits) * unit;
      } else {
        throw invalidConfig(`unknown modifier kind ${JSON.stringify(modifier.kind)}`);
      }
    }
    return span;
  }

  function priceCatalog(catalog, input, lineItems) {
    const { items_field: itemsField, prices_minor: prices, volume_discounts: discounts } = catalog;
    const items = list(input, itemsField);
    if (items === undefined) throw invalidInput(`${itemsField} is missing`);
    const quantities = new Map();
    for (const scalar of items) {
      const entry = scalar.text;
      if (typeof entry !== 'string') throw invalidInput(`${itemsField} must list SKUs`);
      const star = entry.indexOf('*');
      let sku = entry;
      let quantity = 1;
      if (star >= 0) {
        // `str::parse::<u32>`: an optional `+`, then digits, at most u32::MAX.
        const digits = entry.slice(star + 1).trim();
        quantity = /^\+?[0-9]+$/.test(digits) ? Number(digits) : NaN;
        if (!(quantity <= 0xffff_ffff)) throw invalidInput(`bad quantity in ${JSON.stringify(entry)}`);
        sku = entry.slice(0, star);
      }
      sku = sku.trim();
      quantities.set(sku, (quantities.get(sku) ?? 0) + quantity);
    }
    let total = 0;
    // A BTreeMap iterates by key; UTF-16 order is UTF-8 byte order for the
    // ASCII SKUs the catalog has.
    for (const sku of [...quantities.keys()].sort()) {
      const quantity = quantities.get(sku);
      if (!has(prices, sku)) throw invalidInput(`unknown SKU ${JSON.stringify(sku)}`);
      let discount = 0;
      for (const { min_quantity: min, percent } of discounts) {
        if (quantity >= min) discount = Math.max(discount, percent);
      }
      const unit = round(prices[sku] * (1 - discount / 100));
      lineItems.push(item(sku, quantity, unit));
      total += unit * quantity;
    }
    return { low: total, high: total };
  }

  // The guest's entry, as a wasm guest's `run`: the step input as JSON text
  // (its `config` the JSON text of the tenant's config, as the guest
  // receives it) in, the quote as JSON text out. `kept` holds a config
  // parsed by an earlier call, as `init` and `ConfigCell` keep it.
  let kept = null;
  function run(inputJson, keepConfig) {
    const input = JSON.parse(inputJson);
    let config = input.config;
    if (keepConfig) {
      if (kept === null || kept.text !== config) kept = { text: config, value: parseConfig(config) };
      config = kept.value;
    }
    return JSON.stringify(quote(config, input));
  }

  return { quote, run, StepError };
})();

if (typeof module === 'object' && module.exports) module.exports = pricing;
else globalThis.pricing = pricing;
