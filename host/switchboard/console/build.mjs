// Builds the console into dist/: index.html, console.js and console.css,
// nothing else (the Rust side embeds exactly these three with include_bytes).
// The same sources give the same bytes: no source maps, no timestamps, no
// absolute paths in the output.
import { readFile, rm, mkdir, writeFile, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');

const common = {
  absWorkingDir: here,
  bundle: true,
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  charset: 'utf8',
  logLevel: 'warning',
  write: false,
};

const js = await esbuild.build({
  ...common,
  entryPoints: ['src/main.jsx'],
  outfile: 'dist/console.js',
  format: 'iife',
  target: 'es2020',
  platform: 'browser',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  define: { 'process.env.NODE_ENV': '"production"' },
});

const css = await esbuild.build({
  ...common,
  entryPoints: ['src/console.css'],
  outfile: 'dist/console.css',
});

await rm(dist, { recursive: true, force: true });
await mkdir(dist);
const outputs = [...js.outputFiles, ...css.outputFiles];
for (const file of outputs) await writeFile(file.path, file.contents);
await writeFile(join(dist, 'index.html'), await readFile(join(here, 'src/index.html')));

const written = (await readdir(dist)).sort();
const expected = ['console.css', 'console.js', 'index.html'];
if (written.join() !== expected.join()) {
  console.error(`dist/ holds ${written.join(', ')}; expected exactly ${expected.join(', ')}`);
  process.exit(1);
}
for (const name of written) {
  const size = (await readFile(join(dist, name))).length;
  console.log(`dist/${name}  ${(size / 1024).toFixed(1)} KiB`);
}
