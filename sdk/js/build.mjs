#!/usr/bin/env node
// Build a JavaScript plugin into a component:
//
//   node sdk/js/build.mjs PLUGIN_DIR OUTPUT.wasm [WORLD]
//
// PLUGIN_DIR/app.js exports `handler = { run(input) { ... } }` for WORLD
// `step` (the default), `understanding = { classify(input) { ... } }` for
// `classifier`, or both for `plugin`, against `wit/since_v0.2.0`. The plugin and
// this SDK are bundled into one module first (componentize-js takes a single
// source), and every WASI feature the world does not need is disabled, so the
// component imports only what the host grants.
import { componentize } from '@bytecodealliance/componentize-js';
import { readFile, writeFile, mkdir, mkdtemp } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

const [pluginDir, output, worldName = 'step'] = process.argv.slice(2);
if (!pluginDir || !output || !['step', 'classifier', 'plugin'].includes(worldName)) {
  console.error('usage: build.mjs PLUGIN_DIR OUTPUT.wasm [step|classifier|plugin]');
  process.exit(2);
}
const sdkDir = dirname(fileURLToPath(import.meta.url));
const witPath = resolve(sdkDir, '../../wit/since_v0.2.0');

// A tiny bundler: inline `./x.js` and `switchboard` imports, in dependency order.
const seen = new Set();
const chunks = [];
async function include(path) {
  if (seen.has(path)) return;
  seen.add(path);
  let source = await readFile(path, 'utf8');
  const local = /^import\s+\{([^}]*)\}\s+from\s+['"]([^'"]+)['"];?\s*$/gm;
  for (const [, , specifier] of source.matchAll(local)) {
    if (specifier === 'switchboard') await include(join(sdkDir, 'switchboard.js'));
    else if (specifier.startsWith('.')) await include(resolve(dirname(path), specifier));
  }
  source = source.replace(local, (line, names, specifier) =>
    specifier === 'switchboard' || specifier.startsWith('.') ? '' : line);
  // Only the plugin's own entry module keeps its exports.
  if (path !== entry) source = source.replace(/^export\s+/gm, '');
  chunks.push(`// ---- ${path}\n${source}`);
}
const entry = resolve(pluginDir, 'app.js');
await include(entry);

const scratch = await mkdtemp(join(tmpdir(), 'switchboard-js-'));
const sourcePath = join(scratch, 'bundle.js');
await writeFile(sourcePath, chunks.join('\n'));
const { component } = await componentize({
  sourcePath,
  witPath,
  worldName,
  disableFeatures: ['random', 'stdio', 'clocks', 'http', 'fetch-event'],
});
await mkdir(dirname(resolve(output)), { recursive: true });
await writeFile(output, component);
console.log(`Component built successfully: ${output} (${component.length} bytes)`);
