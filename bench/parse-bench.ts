import { parseLegacyJson, parseTolerantJson } from '../src/legacy/legacy-body.parser';

/**
 * `npm run bench:parse`: the legacy endpoint's tolerant body reader against `JSON.parse` on the
 * same bytes, in MB/s, for 10 MB bodies of different kinds (issue 9: linear, within a small
 * factor of JSON.parse). Each body is strict JSON, so JSON.parse can read it too; the tolerant
 * reader is measured alone and as the route runs it on a sloppy body (the same bytes plus a
 * trailing comma: JSON.parse is tried first, fails at the end, then the tolerant reader runs).
 * Memory growth (heap and external) is measured around one tolerant read (with --expose-gc). Ratios within one run
 * are what to compare; absolute figures depend on the machine and its load.
 */

const MB = 1024 * 1024;
const size = Number(process.env.PARSE_BENCH_MB ?? 10) * MB;
const rounds = Number(process.env.PARSE_BENCH_ROUNDS ?? 5);

/** A legacy create-ticket body whose content is `unit` repeated to about `size` bytes. */
const body = (unit: string): string => `{"action": "create-ticket", "credential": "00", "content": "${unit.repeat(Math.floor(size / unit.length))}"}`;

/** A base64 image as PHP's json_encode writes it: every "/" escaped as "\/". */
function escapedBase64(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let text = '';
  for (let index = 0; text.length < size; index++) text += alphabet[(index * 7919) % 64];
  return `{"action": "create-ticket", "credential": "00", "content": "x", "images": ["data:image\\/png;base64,${text.replace(/\//g, '\\/')}"]}`;
}

const bodies: Array<[string, string]> = [
  ['escapes "\\n" (one every 2 bytes)', body('\\n')],
  ['escapes "\\"" and "\\\\"', body('\\"\\\\')],
  ['escapes "\\u00e9" (Latin-1)', body('\\u00e9')],
  ['escapes "\\u4e2d" (CJK, two-byte string)', body('\\u4e2d')],
  ['base64 image with "\\/" escapes', escapedBase64()],
  ['plain text, no escapes', body('abcdefgh')],
];

const gc = (globalThis as { gc?: () => void }).gc;

function best(run: () => unknown): number {
  let fastest = Infinity;
  for (let round = 0; round < rounds; round++) {
    const started = process.hrtime.bigint();
    run();
    fastest = Math.min(fastest, Number(process.hrtime.bigint() - started) / 1e6);
  }
  return fastest;
}

/** The heap plus memory outside it (large strings made from buffers live there). */
const memory = (): number => {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
};

function heapGrowth(run: () => unknown): number | undefined {
  if (!gc) return undefined;
  gc();
  gc();
  const before = memory();
  const kept = run();
  const after = memory();
  return kept === undefined ? undefined : (after - before) / MB;
}

const mbPerSecond = (bytes: number, ms: number): string => ((bytes / MB / ms) * 1000).toFixed(0).padStart(6);

console.log(`legacy body reader vs JSON.parse, ${(size / MB).toFixed(0)} MB bodies, best of ${rounds} (MB/s; ratio = tolerant time / JSON.parse time)`);
console.log('body                                      JSON.parse  tolerant  ratio  route(sloppy)  ratio  memory +MB');
for (const [name, text] of bodies) {
  const sloppy = text.replace(/}$/, ',}');
  const expected = JSON.stringify(JSON.parse(text));
  if (JSON.stringify(parseTolerantJson(text)) !== expected || JSON.stringify(parseLegacyJson(sloppy)) !== expected) {
    throw new Error(`the tolerant reader disagrees with JSON.parse on ${name}`);
  }
  const json = best(() => JSON.parse(text));
  const tolerant = best(() => parseTolerantJson(text));
  const route = best(() => parseLegacyJson(sloppy));
  const heap = heapGrowth(() => parseTolerantJson(text));
  console.log(
    `${name.padEnd(42)}${mbPerSecond(text.length, json)}    ${mbPerSecond(text.length, tolerant)}  ${(tolerant / json).toFixed(1).padStart(5)}  ${mbPerSecond(text.length, route)}        ${(route / json).toFixed(1).padStart(5)}  ${heap === undefined ? '   -' : heap.toFixed(0).padStart(6)}`,
  );
}
