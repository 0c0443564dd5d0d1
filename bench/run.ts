/**
 * Runs the benchmarks B1..B13 and prints one table of figures against their baselines and
 * targets (docs/ARCHITECTURE.md), then writes them as JSON and as an SVG bar chart.
 *
 *   npm run bench -- [--only B1,B3] [--seconds 10] [--quick] [--json FILE] [--chart FILE]
 *
 * A missed target is a result, not an error: the exit code is non-zero only when a benchmark
 * could not run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { BenchOptions, BenchResult } from './lib/types.js';

interface Bench {
  id: string;
  load: () => Promise<{ run: (options: BenchOptions) => Promise<BenchResult> }>;
}

const BENCHES: readonly Bench[] = [
  { id: 'B1', load: () => import('./b1-fanout.js') },
  { id: 'B2', load: () => import('./b2-latency.js') },
  { id: 'B3', load: () => import('./b3-isolation.js') },
  { id: 'B4', load: () => import('./b4-density.js') },
  { id: 'B5', load: () => import('./b5-paint.js') },
  { id: 'B6', load: () => import('./b6-end-to-end.js') },
  { id: 'B7', load: () => import('./b7-passthrough.js') },
  { id: 'B8', load: () => import('./b8-wall.js') },
  { id: 'B9', load: () => import('./b9-cluster.js') },
  { id: 'B10', load: () => import('./b10-engines.js') },
  { id: 'B11', load: () => import('./b11-frame-cost.js') },
  { id: 'B12', load: () => import('./b12-containers.js') },
  { id: 'B13', load: () => import('./b13-timing.js') },
];
/** Characters of a target that fit one line of the chart's right-hand column. */
const TARGET_LINE_CHARS = 50;
const USAGE =
  'Usage: npm run bench -- [--only B1,B3] [--seconds 10] [--quick] [--json FILE] ' +
  '[--chart FILE]\n';

interface Settings {
  only: string[];
  options: BenchOptions;
  json: string | undefined;
  chart: string;
}

function parseSettings(argv: string[]): Settings {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string' },
      seconds: { type: 'string', default: '10' },
      quick: { type: 'boolean', default: false },
      json: { type: 'string' },
      chart: { type: 'string', default: 'docs/benchmarks.svg' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const known = BENCHES.map((bench) => bench.id);
  const only = values.only ? values.only.split(',').map((id) => id.trim().toUpperCase()) : known;
  const unknown = only.filter((id) => !known.includes(id));
  if (unknown.length > 0) throw new Error(`--only: unknown ${unknown.join(', ')}`);
  const seconds = Number(values.seconds);
  if (!(seconds >= 1 && seconds <= 600)) throw new Error('--seconds: expected 1 to 600');
  return {
    only,
    options: { seconds, quick: values.quick },
    json: values.json,
    chart: values.chart,
  };
}

/** A number with about three significant digits. */
function format(value: number | undefined): string {
  if (value === undefined) return '';
  if (!Number.isFinite(value)) return String(value);
  const size = Math.abs(value);
  if (size >= 100) return value.toFixed(0);
  if (size >= 10) return value.toFixed(1);
  if (size >= 0.1 || size === 0) return value.toFixed(2);
  return value.toPrecision(2);
}

function metText(met: boolean | undefined): string {
  if (met === undefined) return '';
  return met ? 'yes' : 'NO';
}

/** The results as a plain-text table. */
export function table(results: readonly BenchResult[]): string {
  const rows: string[][] = [['id', 'figure', 'camplex', 'baseline', 'ratio', 'target', 'met']];
  for (const result of results) {
    for (const figure of result.figures) {
      rows.push([
        result.id,
        figure.name,
        `${format(figure.value)} ${figure.unit}`,
        figure.baseline === undefined ? '' : `${format(figure.baseline)} ${figure.unit}`,
        figure.ratio === undefined ? '' : format(figure.ratio),
        figure.target ?? '',
        metText(figure.met),
      ]);
    }
  }
  const widths = rows[0]?.map((_, column) =>
    Math.max(...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (row: string[]) =>
    row
      .map((cell, column) => cell.padEnd(widths?.[column] ?? 0))
      .join('  ')
      .trimEnd();
  const header = rows[0] ?? [];
  const rule = (widths ?? []).map((width) => '-'.repeat(width)).join('  ');
  return [line(header), rule, ...rows.slice(1).map(line)].join('\n');
}

/** Splits `text` at spaces into at most `lines` lines of `width` characters (cut with ...). */
function wrap(text: string, width: number, lines: number): string[] {
  const out: string[] = [];
  let rest = text;
  while (rest.length > 0 && out.length < lines) {
    if (rest.length <= width) {
      out.push(rest);
      break;
    }
    const cut = rest.lastIndexOf(' ', width);
    const at = cut > 0 ? cut : width;
    out.push(rest.slice(0, at));
    rest = rest.slice(at).trimStart();
  }
  const last = out.length - 1;
  const shown = out.join(' ').length;
  if (shown < text.length && last >= 0) {
    out[last] = `${(out[last] ?? '').slice(0, width - 3)}...`;
  }
  return out;
}

function escapeXml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

/**
 * A bar chart: one group per figure that has a baseline, camplex's bar above the baseline's,
 * both scaled to the larger of the two, the ratio and its target beside them.
 */
export function chart(results: readonly BenchResult[], subtitle: string): string {
  const groups = results.flatMap((result) =>
    result.figures
      .filter((figure) => figure.baseline !== undefined && Number.isFinite(figure.value))
      .map((figure) => ({ id: result.id, figure })),
  );
  const width = 1040;
  const left = 24;
  const barX = 100;
  const barMax = 470;
  const column = 700;
  const groupHeight = 74;
  const top = 78;
  const height = top + groups.length * groupHeight + 40;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Arial, sans-serif">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${left}" y="32" font-size="20" font-weight="bold" fill="#111">` +
      'camplex benchmarks: camplex vs baseline, side by side in one run</text>',
    `<text x="${left}" y="54" font-size="12" fill="#555">${escapeXml(subtitle)}</text>`,
  ];
  groups.forEach(({ id, figure }, index) => {
    const y = top + index * groupHeight;
    const baseline = figure.baseline ?? 0;
    const scale = Math.max(Math.abs(figure.value), Math.abs(baseline)) || 1;
    const bar = (value: number) => Math.max(1, (Math.abs(value) / scale) * barMax);
    const colour = figure.met === undefined ? '#555' : figure.met ? '#1a7f37' : '#c62828';
    const verdict = figure.met === undefined ? '' : figure.met ? 'met' : 'MISSED';
    const row = (label: string, value: number, fill: string, at: number) => [
      `<text x="${left}" y="${at + 12}" font-size="12" fill="#333">${label}</text>`,
      `<rect x="${barX}" y="${at}" width="${bar(value).toFixed(1)}" height="16" fill="${fill}"/>`,
      `<text x="${(barX + bar(value) + 6).toFixed(1)}" y="${at + 12}" font-size="12" ` +
        `fill="#111">${escapeXml(`${format(value)} ${figure.unit}`)}</text>`,
    ];
    parts.push(
      `<text x="${left}" y="${y + 14}" font-size="13" font-weight="bold" fill="#111">` +
        `${id}  ${escapeXml(figure.name)}</text>`,
      ...row('camplex', figure.value, '#1f6feb', y + 22),
      ...row('baseline', baseline, '#9aa4b2', y + 42),
    );
    if (figure.ratio !== undefined) {
      parts.push(
        `<text x="${column}" y="${y + 34}" font-size="13" font-weight="bold" ` +
          `fill="${colour}">${escapeXml(`ratio ${format(figure.ratio)}`)}</text>`,
      );
    }
    if (figure.target) {
      wrap(`target ${figure.target}: ${verdict}`, TARGET_LINE_CHARS, 2).forEach((line, at) => {
        parts.push(
          `<text x="${column}" y="${y + 54 + at * 14}" font-size="12" fill="${colour}">` +
            `${escapeXml(line)}</text>`,
        );
      });
    }
  });
  if (groups.length === 0) {
    parts.push(
      `<text x="${left}" y="${top + 20}" font-size="14">no figures with a baseline</text>`,
    );
  }
  parts.push(
    `<text x="${left}" y="${height - 16}" font-size="11" fill="#555">` +
      'Bars of a group share one scale (the larger value); blue: camplex, grey: the baseline ' +
      'named in the figure (bare ws broadcast unless said otherwise).</text>',
    '</svg>',
  );
  return `${parts.join('\n')}\n`;
}

async function main(): Promise<number> {
  const settings = parseSettings(process.argv.slice(2));
  const startedAt = new Date();
  const results: BenchResult[] = [];
  const errors: Array<{ id: string; error: string }> = [];
  for (const bench of BENCHES) {
    if (!settings.only.includes(bench.id)) continue;
    process.stderr.write(`${bench.id}: running\n`);
    const began = performance.now();
    try {
      const { run } = await bench.load();
      const result = await run(settings.options);
      results.push(result);
      const seconds = ((performance.now() - began) / 1000).toFixed(0);
      process.stderr.write(`${bench.id}: done in ${seconds} s\n`);
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      errors.push({ id: bench.id, error: message });
      process.stderr.write(`${bench.id}: FAILED: ${message}\n`);
    }
  }

  const machine = `${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown CPU'})`;
  const subtitle =
    `${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${machine}, Node ` +
    `${process.versions.node}, ${settings.options.seconds} s per run` +
    `${settings.options.quick ? ', quick' : ''}`;
  process.stdout.write(`\n${table(results)}\n`);
  for (const result of results) {
    process.stdout.write(`\n${result.id} ${result.title}\n`);
    for (const note of result.notes) process.stdout.write(`  - ${note}\n`);
  }
  for (const { id, error } of errors) process.stdout.write(`\n${id} FAILED: ${error}\n`);

  if (settings.json) {
    mkdirSync(dirname(settings.json), { recursive: true });
    const report = {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      machine,
      node: process.versions.node,
      options: settings.options,
      only: settings.only,
      results,
      errors,
    };
    writeFileSync(settings.json, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`\nJSON: ${settings.json}\n`);
  }
  mkdirSync(dirname(settings.chart), { recursive: true });
  writeFileSync(settings.chart, chart(results, subtitle));
  process.stdout.write(`Chart: ${settings.chart}\n`);
  return errors.length > 0 ? 1 : 0;
}

// Run only as the entry point, so table() and chart() can be imported.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : error}\n${USAGE}`);
      process.exit(2);
    },
  );
}
