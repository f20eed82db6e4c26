import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Summarises a V8 `.cpuprofile` (from `npm run bench -- --cpu-prof=DIR`): where the server's
 * time went, by package (or by source file for the product's own code) and by function.
 *
 *   node dist-bench/bench/profile-summary.js DIR/app/CPU.*.cpuprofile [top] [skip seconds]
 *
 * `skip` leaves out the first seconds of the profile (the process's start: module loading and
 * schema building), so a short run's shares are those of serving requests.
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** `node_modules/@scope/pkg/...` → `@scope/pkg`; the product's files by path; V8 pseudo-frames by name. */
function bucketOf(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (!url) return `(${functionName || 'anonymous'})`;
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const parts = url.slice(modules + 'node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  if (url.startsWith('node:')) return url;
  const dist = url.match(/dist(?:-bench)?\/(.*)$/);
  return dist ? dist[1]! : path.basename(url);
}

function summarise(file: string, top: number, skipSeconds: number): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfTime = new Map<number, number>();
  let elapsed = 0;
  profile.samples.forEach((id, i) => {
    elapsed += profile.timeDeltas[i] ?? 0;
    if (elapsed >= skipSeconds * 1e6) selfTime.set(id, (selfTime.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...selfTime.values()].reduce((sum, value) => sum + value, 0);
  const idle = [...selfTime].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)').reduce((sum, [, t]) => sum + t, 0);
  const busy = total - idle;

  const buckets = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, time] of selfTime) {
    const node = byId.get(id)!;
    if (node.callFrame.functionName === '(idle)') continue;
    const bucket = bucketOf(node);
    buckets.set(bucket, (buckets.get(bucket) ?? 0) + time);
    const name = `${node.callFrame.functionName || '(anonymous)'} ${bucket}:${node.callFrame.lineNumber + 1}`;
    functions.set(name, (functions.get(name) ?? 0) + time);
  }
  const percent = (time: number) => `${((100 * time) / busy).toFixed(1).padStart(5)}%`;
  const list = (entries: Map<string, number>) =>
    [...entries]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, time]) => `  ${percent(time)}  ${name}`)
      .join('\n');
  return [
    `${file}: ${(total / 1e6).toFixed(1)} s sampled${skipSeconds ? ` after the first ${skipSeconds} s` : ''}, ${((100 * idle) / total).toFixed(0)}% idle; shares below are of the busy time`,
    'By package / file (self time):',
    list(buckets),
    'By function (self time):',
    list(functions),
  ].join('\n');
}

const [file, top = '25', skip = '0'] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node dist-bench/bench/profile-summary.js FILE.cpuprofile [top]\n');
  process.exit(2);
}
process.stdout.write(`${summarise(file, Number(top), Number(skip))}\n`);
