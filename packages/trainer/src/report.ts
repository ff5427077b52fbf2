/**
 * A self-contained HTML report of a run: inline SVG charts and inline CSS, no script from the network, viewable
 * offline. Built from `metrics.jsonl`, the evaluation results and the class statistics.
 */
import { readFileSync, existsSync } from 'node:fs';
import { writeFileAtomic } from './atomic.js';
import type { EvaluationResult } from './evaluation.js';
import { formatPercent } from './evaluation.js';
import type { EpochRecord, MetricRecord, StepRecord } from './metrics.js';

export interface ReportEvaluation {
  /** e.g. `stage 1`, `stage 2`. */
  label: string;
  result: EvaluationResult;
}

export interface ReportData {
  title: string;
  generatedAt?: string;
  /** Resolved config, shown verbatim. */
  config?: unknown;
  metrics: MetricRecord[];
  evaluations: ReportEvaluation[];
  /** GCL cloud size per class (`log max n − log n_j`). */
  cloudSizes?: number[];
  classNames?: string[];
  /** The backend summary line. */
  backend?: string;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf'];

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

const fmt = (value: number): string => (Math.abs(value) >= 1000 || value === Math.round(value) ? String(Math.round(value)) : value.toPrecision(3));

interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

const FRAME: Frame = { width: 720, height: 300, left: 56, right: 56, top: 16, bottom: 44 };

function axes(frame: Frame, xLabel: string, yLabel: string, yMin: number, yMax: number, xTicks: Array<[number, string]>, yFormat = fmt): string {
  const { width, height, left, right, top, bottom } = frame;
  const plotHeight = height - top - bottom;
  const parts: string[] = [
    `<line x1="${left}" y1="${height - bottom}" x2="${width - right}" y2="${height - bottom}" stroke="#333"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${height - bottom}" stroke="#333"/>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const value = yMin + ((yMax - yMin) * i) / 4;
    const y = height - bottom - (plotHeight * i) / 4;
    parts.push(`<line x1="${left}" y1="${y}" x2="${width - right}" y2="${y}" stroke="#ddd"/>`);
    parts.push(`<text x="${left - 6}" y="${y + 4}" text-anchor="end" font-size="11">${escapeHtml(yFormat(value))}</text>`);
  }
  for (const [x, label] of xTicks) {
    parts.push(`<text x="${x}" y="${height - bottom + 16}" text-anchor="middle" font-size="11">${escapeHtml(label)}</text>`);
  }
  parts.push(`<text x="${(left + width - right) / 2}" y="${height - 6}" text-anchor="middle" font-size="12">${escapeHtml(xLabel)}</text>`);
  parts.push(
    `<text x="14" y="${(top + height - bottom) / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 14 ${(top + height - bottom) / 2})">${escapeHtml(yLabel)}</text>`,
  );
  return parts.join('');
}

interface Series {
  name: string;
  points: Array<[number, number]>;
}

function legend(names: string[], frame: Frame): string {
  return names
    .map((name, i) => {
      const x = frame.left + 10 + i * 130;
      return `<rect x="${x}" y="${frame.top}" width="10" height="10" fill="${COLORS[i % COLORS.length]}"/><text x="${x + 14}" y="${frame.top + 9}" font-size="11">${escapeHtml(name)}</text>`;
    })
    .join('');
}

/** A line chart as an SVG string; `data-chart` names it. */
export function lineChartSvg(name: string, series: Series[], xLabel: string, yLabel: string, yRange?: [number, number]): string {
  const frame = FRAME;
  const all = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (all.length === 0) return emptySvg(name, 'no data yet');
  const xMin = Math.min(...all.map((p) => p[0]));
  const xMax = Math.max(...all.map((p) => p[0]), xMin + 1e-9);
  let [yMin, yMax] = yRange ?? [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  if (yMax <= yMin) yMax = yMin + 1;
  const sx = (x: number) => frame.left + ((x - xMin) / (xMax - xMin)) * (frame.width - frame.left - frame.right);
  const sy = (y: number) => frame.height - frame.bottom - ((y - yMin) / (yMax - yMin)) * (frame.height - frame.top - frame.bottom);
  const ticks: Array<[number, string]> = [0, 0.25, 0.5, 0.75, 1].map((f) => [sx(xMin + f * (xMax - xMin)), fmt(xMin + f * (xMax - xMin))]);
  const paths = series
    .map((s, i) => {
      const points = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
      if (points.length === 0) return '';
      const d = points.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
      const color = COLORS[i % COLORS.length];
      const dots = points.length <= 60 ? points.map(([x, y]) => `<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.5" fill="${color}"/>`).join('') : '';
      return `<path d="${d}" fill="none" stroke="${color}" stroke-width="1.5"><title>${escapeHtml(s.name)}</title></path>${dots}`;
    })
    .join('');
  return svgWrap(name, frame, axes(frame, xLabel, yLabel, yMin, yMax, ticks) + paths + legend(series.map((s) => s.name), frame));
}

/** Grouped vertical bars; `null` values are drawn as "n/a". */
export function groupedBarSvg(name: string, categories: string[], series: Array<{ name: string; values: Array<number | null> }>, yLabel: string, yMax = 1, percent = true): string {
  const frame = FRAME;
  const plotWidth = frame.width - frame.left - frame.right;
  const plotHeight = frame.height - frame.top - frame.bottom;
  const groupWidth = plotWidth / Math.max(categories.length, 1);
  const barWidth = (groupWidth * 0.8) / Math.max(series.length, 1);
  const parts: string[] = [];
  categories.forEach((category, c) => {
    series.forEach((s, i) => {
      const value = s.values[c];
      const x = frame.left + c * groupWidth + groupWidth * 0.1 + i * barWidth;
      if (value === null || value === undefined || Number.isNaN(value)) {
        parts.push(`<text x="${x + barWidth / 2}" y="${frame.height - frame.bottom - 4}" text-anchor="middle" font-size="10">n/a</text>`);
        return;
      }
      const h = (Math.min(value, yMax) / yMax) * plotHeight;
      const label = percent ? `${formatPercent(value)}%` : fmt(value);
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${(frame.height - frame.bottom - h).toFixed(1)}" width="${Math.max(barWidth - 1, 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[i % COLORS.length]}"><title>${escapeHtml(`${s.name} ${category}: ${label}`)}</title></rect>`,
      );
      parts.push(`<text x="${x + barWidth / 2}" y="${(frame.height - frame.bottom - h - 3).toFixed(1)}" text-anchor="middle" font-size="10">${escapeHtml(label)}</text>`);
    });
  });
  const ticks: Array<[number, string]> = categories.map((category, c) => [frame.left + (c + 0.5) * groupWidth, category]);
  const body = axes(frame, '', yLabel, 0, yMax, ticks, percent ? (v) => `${Math.round(100 * v)}%` : fmt) + parts.join('') + legend(series.map((s) => s.name), frame);
  return svgWrap(name, frame, body);
}

/** One bar per class (already ordered), optional line of a second quantity on a log right axis. */
export function classBarsSvg(
  name: string,
  labels: string[],
  values: Array<number | null>,
  yLabel: string,
  yMax: number,
  overlay?: { name: string; values: number[] },
  percent = true,
): string {
  const frame = FRAME;
  const plotWidth = frame.width - frame.left - frame.right;
  const plotHeight = frame.height - frame.top - frame.bottom;
  const step = plotWidth / Math.max(values.length, 1);
  const base = frame.height - frame.bottom;
  const parts: string[] = [];
  values.forEach((value, i) => {
    if (value === null || !Number.isFinite(value)) return;
    const h = (Math.min(value, yMax) / (yMax || 1)) * plotHeight;
    const text = percent ? `${formatPercent(value)}%` : fmt(value);
    parts.push(
      `<rect x="${(frame.left + i * step).toFixed(2)}" y="${(base - h).toFixed(1)}" width="${Math.max(step * 0.85, 0.5).toFixed(2)}" height="${h.toFixed(1)}" fill="${COLORS[0]}"><title>${escapeHtml(`${labels[i]}: ${text}`)}</title></rect>`,
    );
  });
  if (overlay && overlay.values.length > 0) {
    const logs = overlay.values.map((v) => Math.log10(Math.max(v, 1)));
    const top = Math.max(...logs, 1);
    const d = logs.map((v, i) => `${i === 0 ? 'M' : 'L'}${(frame.left + (i + 0.5) * step).toFixed(1)},${(base - (v / top) * plotHeight).toFixed(1)}`).join('');
    parts.push(`<path d="${d}" fill="none" stroke="${COLORS[1]}" stroke-width="2"><title>${escapeHtml(overlay.name)}</title></path>`);
    for (let i = 0; i <= 2; i++) {
      const v = (top * i) / 2;
      parts.push(`<text x="${frame.width - frame.right + 6}" y="${base - (plotHeight * i) / 2 + 4}" font-size="11" fill="${COLORS[1]}">${fmt(10 ** v)}</text>`);
    }
  }
  const tickEvery = Math.max(1, Math.ceil(values.length / 20));
  const ticks: Array<[number, string]> = labels
    .map((label, i): [number, string] => [frame.left + (i + 0.5) * step, label])
    .filter((_, i) => i % tickEvery === 0);
  const legendNames = overlay ? [yLabel, `${overlay.name} (log, right axis)`] : [yLabel];
  return svgWrap(
    name,
    frame,
    axes(frame, 'classes, most frequent first', yLabel, 0, yMax, ticks, percent ? (v) => `${Math.round(100 * v)}%` : fmt) + parts.join('') + legend(legendNames, frame),
  );
}

/** Row-normalised confusion matrix heat map, classes in the given order, binned to at most `maxCells` per side. */
export function confusionSvg(name: string, confusion: number[][], order: number[], maxCells = 100): string {
  const n = order.length;
  if (n === 0) return emptySvg(name, 'no classes');
  const bins = Math.min(n, maxCells);
  const binOf = (position: number) => Math.floor((position * bins) / n);
  const cells = Array.from({ length: bins }, () => new Array<number>(bins).fill(0));
  const rowTotals = new Array<number>(bins).fill(0);
  order.forEach((trueClass, rowPosition) => {
    const row = confusion[trueClass];
    const rowSum = row.reduce((a, b) => a + b, 0);
    if (rowSum === 0) return;
    const r = binOf(rowPosition);
    rowTotals[r] += 1;
    order.forEach((predictedClass, columnPosition) => {
      cells[r][binOf(columnPosition)] += row[predictedClass] / rowSum;
    });
  });
  const size = 480;
  const margin = 40;
  const cell = size / bins;
  const parts: string[] = [];
  for (let r = 0; r < bins; r++) {
    for (let c = 0; c < bins; c++) {
      const value = rowTotals[r] > 0 ? cells[r][c] / rowTotals[r] : 0;
      if (value <= 0) continue;
      const shade = Math.round(255 * (1 - Math.min(1, value)));
      parts.push(
        `<rect x="${(margin + c * cell).toFixed(2)}" y="${(margin + r * cell).toFixed(2)}" width="${cell.toFixed(2)}" height="${cell.toFixed(2)}" fill="rgb(${shade},${shade},255)"><title>true ${r}, predicted ${c}: ${(100 * value).toFixed(1)}%</title></rect>`,
      );
    }
  }
  const frame = { ...FRAME, width: size + 2 * margin, height: size + 2 * margin };
  const body =
    `<rect x="${margin}" y="${margin}" width="${size}" height="${size}" fill="none" stroke="#333"/>` +
    parts.join('') +
    `<text x="${margin + size / 2}" y="${margin - 10}" text-anchor="middle" font-size="12">predicted (most frequent first)</text>` +
    `<text x="${margin - 10}" y="${margin + size / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 ${margin - 10} ${margin + size / 2})">true class</text>`;
  return svgWrap(name, frame, body);
}

function svgWrap(name: string, frame: { width: number; height: number }, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" data-chart="${escapeHtml(name)}" viewBox="0 0 ${frame.width} ${frame.height}" width="${frame.width}" height="${frame.height}" role="img">${body}</svg>`;
}

function emptySvg(name: string, message: string): string {
  return svgWrap(name, { width: 360, height: 60 }, `<text x="10" y="34" font-size="13">${escapeHtml(message)}</text>`);
}

function lossSeries(metrics: MetricRecord[]): Series[] {
  const steps = metrics.filter((m): m is StepRecord => m.type === 'step');
  const stage1Epochs = Math.max(0, ...metrics.filter((m) => m.stage === 1).map((m) => m.epoch + 1));
  const out: Series[] = [];
  for (const stage of [1, 2] as const) {
    const ofStage = steps.filter((s) => s.stage === stage);
    if (ofStage.length === 0) continue;
    const perEpoch = new Map<number, number>();
    for (const s of ofStage) perEpoch.set(s.epoch, Math.max(perEpoch.get(s.epoch) ?? 0, s.step + 1));
    const offset = stage === 2 ? stage1Epochs : 0;
    let points: Array<[number, number]> = ofStage.map((s) => [offset + s.epoch + (s.step + 1) / (perEpoch.get(s.epoch) ?? 1), s.loss]);
    if (points.length > 1500) {
      const stride = Math.ceil(points.length / 1500);
      points = points.filter((_, i) => i % stride === 0);
    }
    out.push({ name: `stage ${stage} loss`, points });
  }
  return out;
}

function accuracySeries(metrics: MetricRecord[]): Series[] {
  const epochs = metrics.filter((m): m is EpochRecord => m.type === 'epoch' && m.top1 !== undefined);
  const stage1Epochs = Math.max(0, ...metrics.filter((m) => m.stage === 1).map((m) => m.epoch + 1));
  const x = (e: EpochRecord) => (e.stage === 2 ? stage1Epochs : 0) + e.epoch + 1;
  const pick = (key: 'top1' | 'many' | 'medium' | 'few'): Array<[number, number]> =>
    epochs.filter((e) => typeof e[key] === 'number').map((e) => [x(e), e[key] as number]);
  return [
    { name: 'top-1', points: pick('top1') },
    { name: 'many', points: pick('many') },
    { name: 'medium', points: pick('medium') },
    { name: 'few', points: pick('few') },
  ].filter((s) => s.points.length > 0);
}

/** Builds the report HTML (a single string, no external resources). */
export function buildReportHtml(data: ReportData): string {
  const last = data.evaluations[data.evaluations.length - 1]?.result;
  const counts = last?.trainCounts ?? [];
  const names = data.classNames ?? last?.classNames ?? counts.map((_, i) => String(i));
  const order = counts.map((_, i) => i).sort((a, b) => counts[b] - counts[a] || a - b);
  const sections: string[] = [];
  const figure = (title: string, svg: string, note = '') =>
    `<figure class="chart"><figcaption>${escapeHtml(title)}</figcaption>${svg}${note ? `<p class="note">${escapeHtml(note)}</p>` : ''}</figure>`;

  const summaryRows = data.evaluations
    .map(
      ({ label, result }) =>
        `<tr><th>${escapeHtml(label)}</th><td>${formatPercent(result.top1)}</td><td>${formatPercent(result.top5)}</td><td>${formatPercent(result.many)}</td><td>${formatPercent(result.medium)}</td><td>${formatPercent(result.few)}</td><td>${result.numSamples}</td></tr>`,
    )
    .join('');
  sections.push(
    `<section><h2>Results</h2><table class="summary"><thead><tr><th></th><th>top-1 %</th><th>top-5 %</th><th>many %</th><th>medium %</th><th>few %</th><th>test images</th></tr></thead><tbody>${summaryRows || '<tr><td colspan="7">no evaluation yet</td></tr>'}</tbody></table>` +
      (last
        ? `<p class="note">many: ${last.groups.many.length} classes (&gt; 100 training images), medium: ${last.groups.medium.length} (20–100), few: ${last.groups.few.length} (&lt; 20); an empty group is n/a.</p>`
        : '') +
      `</section>`,
  );

  sections.push(
    `<section><h2>Training curves</h2>${figure('Training loss per step', lineChartSvg('loss', lossSeries(data.metrics), 'epoch (stage 2 continues after stage 1)', 'loss'))}${figure(
      'Test accuracy per epoch',
      lineChartSvg('accuracy', accuracySeries(data.metrics), 'epoch', 'accuracy', [0, 1]),
    )}</section>`,
  );

  if (last) {
    sections.push(
      `<section><h2>Per class</h2>${figure(
        `Per-class accuracy (${data.evaluations[data.evaluations.length - 1].label}) against class size, most frequent first`,
        classBarsSvg(
          'per-class',
          order.map((i) => names[i]),
          order.map((i) => last.perClassAccuracy[i]),
          'accuracy',
          1,
          { name: 'training images', values: order.map((i) => counts[i]) },
        ),
      )}${figure(
        'Many / medium / few-shot accuracy',
        groupedBarSvg(
          'shots',
          ['overall', 'many', 'medium', 'few'],
          data.evaluations.map(({ label, result }) => ({ name: label, values: [result.top1, result.many, result.medium, result.few] })),
          'accuracy',
        ),
      )}</section>`,
    );
  }
  if (data.cloudSizes && data.cloudSizes.length > 0) {
    const clouds = data.cloudSizes;
    const cloudOrder = order.length === clouds.length ? order : clouds.map((_, i) => i);
    const maxCloud = Math.max(...clouds, 1e-9);
    sections.push(
      `<section><h2>Cloud sizes</h2>${figure(
        'GCL cloud size δ_j = log max n − log n_j per class, most frequent first',
        classBarsSvg('clouds', cloudOrder.map((i) => names[i] ?? String(i)), cloudOrder.map((i) => clouds[i]), 'cloud size', maxCloud, undefined, false),
      )}</section>`,
    );
  }
  if (last) {
    sections.push(
      `<section><h2>Confusion matrix</h2>${figure(
        `Row-normalised confusion matrix (${data.evaluations[data.evaluations.length - 1].label}), classes most frequent first`,
        confusionSvg('confusion', last.confusion, order),
      )}</section>`,
    );
    const rows = order
      .map((i) => `<tr><td>${i}</td><td>${escapeHtml(names[i])}</td><td>${counts[i]}</td><td>${formatPercent(last.perClassAccuracy[i])}</td>${data.cloudSizes ? `<td>${data.cloudSizes[i]?.toFixed(3) ?? ''}</td>` : ''}</tr>`)
      .join('');
    sections.push(
      `<section><h2>Per-class table</h2><table><thead><tr><th>class</th><th>name</th><th>training images</th><th>accuracy %</th>${data.cloudSizes ? '<th>cloud size</th>' : ''}</tr></thead><tbody>${rows}</tbody></table></section>`,
    );
  }
  if (data.config !== undefined) {
    sections.push(`<section><h2>Config</h2><pre>${escapeHtml(JSON.stringify(data.config, null, 2))}</pre></section>`);
  }
  const style = `body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}h1{font-size:22px}h2{font-size:17px;border-bottom:1px solid #ccc}figure{margin:12px 0}figcaption{font-weight:600;margin-bottom:4px}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}.note{color:#555;font-size:12px}pre{background:#f6f6f6;padding:8px;font-size:12px;overflow:auto}svg{background:#fff;max-width:100%;height:auto}`;
  const meta = [data.generatedAt ? `generated ${data.generatedAt}` : '', data.backend ? `backend: ${data.backend}` : ''].filter(Boolean).join(' · ');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(
    data.title,
  )}</title><style>${style}</style></head><body><h1>${escapeHtml(data.title)}</h1>${meta ? `<p class="note">${escapeHtml(meta)}</p>` : ''}${sections.join('')}</body></html>\n`;
}

/** Writes `report.html` atomically (never a truncated report; a failure names the file). */
export async function writeReport(filePath: string, data: ReportData): Promise<void> {
  await writeFileAtomic(filePath, buildReportHtml(data));
}

/** Reads a JSON file if it exists; a file that cannot be read or parsed throws an error naming it. */
export function readJsonIfExists<T>(filePath: string): T | undefined {
  if (!existsSync(filePath)) return undefined;
  let text: string;
  try {
    text = readFileSync(filePath, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${filePath}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new Error(`${filePath} is not valid JSON (${text.length === 0 ? 'empty file' : (error as Error).message}): a damaged run file; delete it or train again`);
  }
}
