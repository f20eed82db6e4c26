// Builds the live board (board/src) into dist/board: one hashed, minified JS bundle and one
// hashed CSS file, and an index.html that loads them (no inline script or style, so the page
// runs under a CSP without 'unsafe-inline'). Run by `npm run build` / `prepare` / `prestart`.
//   node board/build.mjs [--outdir DIR]
import { build } from 'esbuild';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

/** Builds into `outdir`; returns the files written and the gzipped size of the JavaScript. */
export async function buildBoard(outdir = path.join(root, 'dist', 'board')) {
  mkdirSync(outdir, { recursive: true });
  const result = await build({
    entryPoints: { app: path.join(here, 'src', 'main.tsx') },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    entryNames: '[name]-[hash]',
    outdir,
    write: false,
    metafile: true,
    legalComments: 'none',
    sourcemap: false,
    logLevel: 'warning',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const outputs = result.outputFiles.map((file) => ({ name: path.basename(file.path), contents: file.contents }));
  const js = outputs.find((file) => file.name.endsWith('.js'));
  const css = outputs.find((file) => file.name.endsWith('.css'));
  if (!js || !css || outputs.length !== 2) throw new Error(`board build: expected one .js and one .css, got ${outputs.map((file) => file.name).join(', ')}`);
  const html = readFileSync(path.join(here, 'index.html'), 'utf8').replace('%CSS%', css.name).replace('%JS%', js.name);
  const gzippedJs = gzipSync(js.contents, { level: 9 }).length;
  // Each file is written beside its place and renamed into it, the bundle before the page that
  // names it: a server reading this folder while it is rebuilt (tests build in parallel) never
  // sees a missing or half-written file.
  const files = [
    ...outputs,
    { name: 'index.html', contents: html },
    { name: 'manifest.json', contents: JSON.stringify({ js: js.name, css: css.name, gzippedJs }, null, 2) + '\n' },
  ];
  for (const file of files) {
    const temporary = path.join(outdir, `.${file.name}.${process.pid}.tmp`);
    writeFileSync(temporary, file.contents);
    renameSync(temporary, path.join(outdir, file.name));
  }
  // Bundles of earlier builds go (a build of the same sources names the same files).
  const keep = new Set(files.map((file) => file.name));
  for (const name of readdirSync(outdir)) if (!keep.has(name) && !name.startsWith('.')) rmSync(path.join(outdir, name), { force: true });
  return { outdir, js: js.name, css: css.name, gzippedJs };
}

/** The JS budget of issue 13: at most 120 KB gzipped. */
export const JS_BUDGET_GZIP_BYTES = 120 * 1024;

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const flag = process.argv.indexOf('--outdir');
  const outdir = flag > 0 ? path.resolve(process.argv[flag + 1]) : undefined;
  const built = await buildBoard(outdir);
  const kb = (built.gzippedJs / 1024).toFixed(1);
  if (built.gzippedJs > JS_BUDGET_GZIP_BYTES) {
    console.error(`board: ${built.js} is ${kb} KiB gzipped, over the 120 KiB budget`);
    process.exit(1);
  }
  console.log(`board: ${path.relative(root, built.outdir)}/${built.js} ${kb} KiB gzipped (budget 120 KiB)`);
}
