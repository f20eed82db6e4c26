import type { ColdStartResult } from './cold-start';

/** One target in one round. */
export interface RoundResult {
  readonly round: number;
  readonly requestsPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  /** Peak resident set size of the server process during the measured run, bytes. */
  readonly peakRss: number;
  /**
   * CPU time (user + system) the server process spent per request during the run. Less sensitive
   * than req/s to other work on a shared machine; for the bound on PostgreSQL it leaves out the
   * database server's own CPU, which runs in another process.
   */
  readonly cpuMsPerRequest: number;
  /**
   * CPU time of the PostgreSQL backends serving the benchmark's database per request (pg-cpu.ts);
   * NaN on the embedded database, whose CPU is the server process's own.
   */
  readonly dbCpuMsPerRequest: number;
  /** SQL statements per request, from the counting pass after the run. */
  readonly statementsPerRequest: number;
  readonly requests: number;
  readonly failed: number;
}

export interface TargetSummary {
  readonly name: string;
  /** The bound its ratio is taken to; `sql-bound` when absent. */
  readonly bound?: string;
  /** The floor its `× floor` ratios are taken to; `floor` when absent. */
  readonly floor?: string;
  readonly description: string;
  /** Why it did not run, when it did not. */
  skipped?: string;
  readonly rounds: RoundResult[];
}

export const median = (values: readonly number[]): number => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

/**
 * Ratio of a target to the SQL bound: per round (the two ran minutes apart on the same machine),
 * then the median over rounds, which is steadier on a noisy shared machine than a ratio of medians.
 */
export function boundRatio(target: TargetSummary, bound: TargetSummary | undefined): number {
  if (!bound) return Number.NaN;
  const ratios = target.rounds.flatMap((result) => {
    const boundRound = bound.rounds.find((candidate) => candidate.round === result.round);
    return boundRound ? [result.requestsPerSecond / boundRound.requestsPerSecond] : [];
  });
  return median(ratios);
}

/** Server process + PostgreSQL backends (the server alone on PGlite, which runs in-process). */
export const totalCpu = (r: RoundResult): number => r.cpuMsPerRequest + (Number.isFinite(r.dbCpuMsPerRequest) ? r.dbCpuMsPerRequest : 0);

/** Per round against the floor's round, then the median (as boundRatio). */
function floorRatio(target: TargetSummary, floor: TargetSummary | undefined, value: (r: RoundResult) => number): number {
  if (!floor) return Number.NaN;
  return median(
    target.rounds.flatMap((result) => {
      const floorRound = floor.rounds.find((candidate) => candidate.round === result.round);
      return floorRound ? [value(result) / value(floorRound)] : [];
    }),
  );
}

const fixed = (value: number, digits: number): string => (Number.isFinite(value) ? value.toFixed(digits) : '—');
const mb = (bytes: number): string => (Number.isFinite(bytes) ? `${Math.round(bytes / 1024 / 1024)}` : '—');

function table(header: string[], rows: string[][], rightAligned: Set<number>): string {
  const widths = header.map((cell, i) => Math.max(cell.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => (rightAligned.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((width, i) => (rightAligned.has(i) ? `${'-'.repeat(width + 1)}:` : '-'.repeat(width + 2))).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

/** The results table (Markdown, so it can go into docs/performance.md as printed). */
export function resultsTable(summaries: readonly TargetSummary[]): string {
  const boundOf = (summary: TargetSummary) => summaries.find((candidate) => candidate.name === (summary.bound ?? 'sql-bound') && !candidate.skipped);
  const floorOf = (summary: TargetSummary) => summaries.find((candidate) => candidate.name === (summary.floor ?? 'floor') && !candidate.skipped);
  const rows = summaries.map((summary) => {
    if (summary.skipped) {
      const reason = summary.skipped.length > 70 ? `${summary.skipped.slice(0, 69)}…` : summary.skipped;
      return [summary.name, '—', '—', '—', '—', '—', '—', '—', '—', '—', '—', '—', '—', reason.replace(/\|/g, '\\|').replace(/\s+/g, ' ')];
    }
    const rounds = summary.rounds;
    // A floor answers a viewer's list page; the finding targets are compared with their own bounds only.
    const againstFloor = summary.bound === undefined ? floorOf(summary) : undefined;
    return [
      summary.name,
      fixed(median(rounds.map((r) => r.requestsPerSecond)), 0),
      fixed(median(rounds.map((r) => r.p50)), 1),
      fixed(median(rounds.map((r) => r.p99)), 1),
      fixed(median(rounds.map((r) => r.cpuMsPerRequest)), 2),
      fixed(median(rounds.map((r) => r.dbCpuMsPerRequest)), 2),
      fixed(median(rounds.map(totalCpu)), 2),
      mb(Math.max(...rounds.map((r) => r.peakRss))),
      fixed(
        floorRatio(summary, againstFloor, (r) => r.requestsPerSecond),
        2,
      ),
      fixed(floorRatio(summary, againstFloor, totalCpu), 2),
      fixed(boundRatio(summary, boundOf(summary)), 2),
      fixed(median(rounds.map((r) => r.statementsPerRequest)), 1),
      String(rounds.reduce((sum, r) => sum + r.failed, 0)),
      rounds.map((r) => fixed(r.requestsPerSecond, 0)).join(' / '),
    ];
  });
  return table(
    [
      'target',
      'req/s',
      'p50 ms',
      'p99 ms',
      'server CPU ms/req',
      'PG CPU ms/req',
      'total CPU ms/req',
      'RSS MB',
      '× floor',
      'CPU × floor',
      '× bound',
      'SQL/req',
      'failed',
      'req/s per round',
    ],
    rows,
    new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]),
  );
}

export function targetList(summaries: readonly TargetSummary[]): string {
  return summaries.map((summary) => `- \`${summary.name}\`: ${summary.description}`).join('\n');
}

export function coldStartTable(results: readonly ColdStartResult[]): string {
  return table(
    ['embedded database, process start → /readyz 200', 'median ms', 'runs ms'],
    results.map((result) => [result.kind, fixed(median(result.runs), 0), result.runs.map((ms) => fixed(ms, 0)).join(' / ')]),
    new Set([1]),
  );
}
