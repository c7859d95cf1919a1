#!/usr/bin/env node
// Build a JavaScript plugin into a component:
//
//   node build.mjs --sdk SDK_DIR PLUGIN_DIR OUTPUT.wasm [WORLD]
//
// Run by build.sh from the tool cache, where esbuild and componentize-js are
// installed (so nothing is installed into the host checkout or the plugin).
//
// PLUGIN_DIR/app.js exports `handler = { run(input) { ... } }` for WORLD
// `step` (the default), `understanding = { classify(input) { ... } }` for
// `classifier`, or both for `plugin`, against `wit/since_v0.2.0`.
//
// esbuild bundles a generated entry into one ES module for componentize-js:
// it imports the plugin's app.js and exports its handler and understanding
// behind the SDK's guard (guard.js). ES modules, `import * as`, npm packages
// from the plugin's own node_modules and `import ... from 'switchboard'` all
// resolve as they do in Node. Every WASI feature the world does not need is
// disabled, so the component imports only what the host grants.
import { componentize } from '@bytecodealliance/componentize-js';
import { build } from 'esbuild';
import { writeFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';

const args = process.argv.slice(2);
const sdkFlag = args.indexOf('--sdk');
const sdkDir = sdkFlag >= 0 ? resolve(args.splice(sdkFlag, 2)[1]) : dirname(new URL(import.meta.url).pathname);
const [pluginDir, output, worldName = 'step'] = args;
const exportsOf = { step: ['handler'], classifier: ['understanding'], plugin: ['handler', 'understanding'] };
if (!pluginDir || !output || !exportsOf[worldName]) {
  console.error('usage: build.mjs [--sdk SDK_DIR] PLUGIN_DIR OUTPUT.wasm [step|classifier|plugin]');
  process.exit(2);
}
// The contract: packed into the npm package as `wit/`, else the checkout's.
const packed = resolve(sdkDir, 'wit');
const witPath = existsSync(packed) ? packed : resolve(sdkDir, '../../wit/since_v0.2.0');
const app = resolve(pluginDir, 'app.js');

const scratch = await mkdtemp(join(tmpdir(), 'switchboard-js-'));
try {
  const guards = { handler: 'guardHandler', understanding: 'guardUnderstanding' };
  const entry = join(scratch, 'entry.js');
  await writeFile(
    entry,
    [
      `import * as app from ${JSON.stringify(app)};`,
      `import { guardHandler, guardUnderstanding } from ${JSON.stringify(join(sdkDir, 'guard.js'))};`,
      ...exportsOf[worldName].map((name) => `export const ${name} = ${guards[name]}(app.${name});`),
    ].join('\n'),
  );
  const sourcePath = join(scratch, 'bundle.js');
  await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    outfile: sourcePath,
    alias: { switchboard: join(sdkDir, 'switchboard.js') },
    // The plugin's own packages, then nothing else: no host paths leak in.
    nodePaths: [join(resolve(pluginDir), 'node_modules')],
    mainFields: ['module', 'main'],
    logLevel: 'warning',
  });
  // SWITCHBOARD_WEVAL names a weval binary: componentize-js then builds
  // ahead of time (weval partially evaluates the interpreter over the
  // bundle). Measured in `switchboard-bench steps`; see README.md.
  const weval = process.env.SWITCHBOARD_WEVAL;
  const { component } = await componentize({
    sourcePath,
    witPath,
    worldName,
    disableFeatures: ['random', 'stdio', 'clocks', 'http', 'fetch-event'],
    ...(weval ? { enableAot: true, wevalBin: weval } : {}),
  });
  await mkdir(dirname(resolve(output)), { recursive: true });
  await writeFile(output, component);
  console.log(`Component built successfully: ${output} (${component.length} bytes)`);
} finally {
  await rm(scratch, { recursive: true, force: true });
}
