// `switchboard-bench steps --peers`' JavaScript side: the pricing step
// (pricing.js, a port of plugins/pricing-calculator) timed in the sandboxes
// a JavaScript plugin host would use, for the Rust bench to set beside its
// wasm figures from the same run.
//
// For each case (the bench's `moving` quote and its 1,000-item `catalog`):
//
// - **isolated-vm, reused**: one Isolate and Context with pricing.js
//   compiled into it once; each call passes the step input in as JSON text
//   and takes the quote back as JSON text, parsed here (what crossing the
//   boundary costs, as lowering and lifting do for wasm). Text both ways
//   was the cheapest honest crossing tried: copying the input object in
//   (`arguments: { copy: true }` or an `ExternalCopy`) and the quote out
//   (`result: { copy: true }`) cost the same for `moving` and about 1.5x
//   for `catalog`;
// - **isolated-vm, fresh isolate**: a new Isolate (32 MiB), Context and
//   compile of pricing.js per call, then the call, then dispose;
// - **node:vm, fresh context**: `vm.createContext` and `runInContext` of
//   pricing.js per call, then the call (no security boundary, for scale);
// - **plain JS**: `quote(config, input)` in this process (the floor).
//
// Each parses the config's JSON text on every call, as the Rust guest did
// before snapshots; `*_config_kept_us` are the reused isolate and plain JS
// with the config parsed once, as `init` and the snapshot leave it.
//
// The paths run in interleaved rounds and the medians are reported, as
// steps.rs does: a noisy neighbour slows them all alike. One JSON object
// goes to stdout; progress to stderr. `--check` prints the quotes instead.
//
//   node host/bench/peers/run.mjs [--rounds 31] [--sample-ms 20] [--case moving] [--check]
//
// isolated-vm comes from SWITCHBOARD_PEERS_DIR (by default
// $XDG_CACHE_HOME/switchboard/bench-peers), where install.sh puts it;
// without it the isolated-vm paths are null.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import vm from 'node:vm';

const here = dirname(fileURLToPath(import.meta.url));
const plugin = join(here, '../../../plugins/pricing-calculator');
const source = readFileSync(join(here, 'pricing.js'), 'utf8');
const pricing = createRequire(import.meta.url)('./pricing.js');

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '31' },
    'sample-ms': { type: 'string', default: '20' },
    case: { type: 'string' },
    check: { type: 'boolean', default: false },
  },
});
const rounds = Number(args.rounds);
const sampleMs = Number(args['sample-ms']);
if (!(rounds >= 1 && sampleMs > 0)) {
  console.error('usage: run.mjs [--rounds N] [--sample-ms MS] [--case NAME] [--check]');
  process.exit(2);
}

const peersDir =
  process.env.SWITCHBOARD_PEERS_DIR ||
  join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'switchboard', 'bench-peers');
const ivm = loadIsolatedVm();

/** isolated-vm from the cache dir, or null (with a note) when it is not there. */
function loadIsolatedVm() {
  const require = createRequire(join(peersDir, 'package.json'));
  let module;
  try {
    module = require('isolated-vm');
  } catch (error) {
    console.error(`isolated-vm is not installed in ${peersDir} (${error.code ?? error.message}):`);
    console.error('run `bash host/bench/peers/install.sh` to time it; its paths are null for now');
    return null;
  }
  return { module, version: require('isolated-vm/package.json').version };
}

// isolated-vm needs Node's startup snapshot off from Node 20 on (its
// README); run again with the flag rather than ask every caller for it.
if (ivm && !process.execArgv.includes('--no-node-snapshot')) {
  const argv = ['--no-node-snapshot', ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)];
  process.exit(spawnSync(process.execPath, argv, { stdio: 'inherit' }).status ?? 1);
}

/** The step input as steps.rs builds it, its config the compact JSON text the guest receives. */
function stepInput(configFile, fields) {
  return {
    tenant: 'bench',
    conversation: 'bench-conversation',
    step: 'quote',
    channel: 'whatsapp',
    contact: { id: 'contact', display_name: null, locale: 'ru' },
    intent: null,
    message: null,
    fields,
    score: 0,
    now: 1_767_225_600_000,
    config: JSON.stringify(JSON.parse(readFileSync(join(plugin, 'config', configFile), 'utf8'))),
  };
}

const skus = ['box-s', 'box-m', 'box-l', 'tape', 'wrap', 'crate', 'dolly', 'blanket', 'label', 'marker'];
const cases = {
  moving: stepInput('moving.json', {
    urgency: { text: 'express' },
    complexity: { text: 'stairs' },
    distance_km: { number: 25 },
  }),
  catalog: stepInput('catalog.json', {
    items: { list: Array.from({ length: 1_000 }, (_, n) => ({ text: skus[n % skus.length] })) },
  }),
};

/** Each path: a call that takes the case's input to its quote, as a value here. */
function paths(input) {
  const parsed = JSON.parse(input.config);
  const all = {
    plain_js_us: () => pricing.quote(input.config, input),
    plain_js_config_kept_us: () => pricing.quote(parsed, input),
    node_vm_fresh_context_us: () => {
      const context = vm.createContext();
      vm.runInContext(source, context);
      return JSON.parse(context.pricing.run(JSON.stringify(input), false));
    },
  };
  if (ivm) {
    const { Isolate } = ivm.module;
    const isolate = new Isolate({ memoryLimit: 32 });
    const context = isolate.createContextSync();
    isolate.compileScriptSync(source).runSync(context);
    const run = context.evalSync('pricing.run', { reference: true });
    all.isolated_vm_reused_us = () => JSON.parse(run.applySync(undefined, [JSON.stringify(input), false]));
    all.isolated_vm_reused_config_kept_us = () => JSON.parse(run.applySync(undefined, [JSON.stringify(input), true]));
    all.isolated_vm_fresh_isolate_us = () => {
      const fresh = new Isolate({ memoryLimit: 32 });
      try {
        const freshContext = fresh.createContextSync();
        fresh.compileScriptSync(source).runSync(freshContext);
        const freshRun = freshContext.evalSync('pricing.run', { reference: true });
        return JSON.parse(freshRun.applySync(undefined, [JSON.stringify(input), false]));
      } finally {
        fresh.dispose();
      }
    };
  }
  return all;
}

// Calls per sample so that one sample takes about `sampleMs`, as steps.rs.
function iterationsFor(call) {
  for (let i = 0; i < 10; i++) call();
  const started = performance.now();
  let calls = 0;
  while (performance.now() - started < sampleMs / 4) {
    call();
    calls++;
  }
  return Math.max(calls * 4, 1);
}

let sink; // keeps every result alive, so no call is optimised away
function sample(call, iterations) {
  const started = performance.now();
  for (let i = 0; i < iterations; i++) sink = call();
  return ((performance.now() - started) * 1000) / iterations;
}

const median = (samples) => samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)];

const selected = Object.entries(cases).filter(([name]) => !args.case || name.includes(args.case));
if (args.check) {
  const quotes = Object.fromEntries(selected.map(([name, input]) => [name, pricing.quote(input.config, input)]));
  console.log(JSON.stringify(quotes, null, 2));
  process.exit(0);
}

const report = { node: process.version, isolated_vm: ivm?.version ?? null, rounds, sample_ms: sampleMs, cases: {} };
for (const [name, input] of selected) {
  const calls = paths(input);
  // The paths must agree before their speed means anything.
  const expected = JSON.stringify(calls.plain_js_us());
  for (const [path, call] of Object.entries(calls)) {
    if (JSON.stringify(call()) !== expected) throw new Error(`${name}: ${path} gives another quote`);
  }
  console.error(`${name}: calibrating ${Object.keys(calls).length} paths`);
  const iterations = Object.fromEntries(Object.entries(calls).map(([path, call]) => [path, iterationsFor(call)]));
  const samples = Object.fromEntries(Object.keys(calls).map((path) => [path, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [path, call] of Object.entries(calls)) samples[path].push(sample(call, iterations[path]));
    console.error(`${name}: round ${round + 1}/${rounds}`);
  }
  const row = {
    isolated_vm_reused_us: null,
    isolated_vm_reused_config_kept_us: null,
    isolated_vm_fresh_isolate_us: null,
    node_vm_fresh_context_us: null,
    plain_js_us: null,
    plain_js_config_kept_us: null,
  };
  for (const [path, values] of Object.entries(samples)) row[path] = Number(median(values).toFixed(3));
  report.cases[name] = row;
}
void sink;
console.log(JSON.stringify(report, null, 2));
