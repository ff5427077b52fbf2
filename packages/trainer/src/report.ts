/**
 * A self-contained HTML report of a run: inline SVG charts and inline CSS, no script from the network, viewable
 * offline. Built from `metrics.jsonl`, the evaluation results and the class statistics.
 */
import { readFileSync, existsSync } from 'node:fs';
import { writeFileAtomic } from './atomic.js';
import type { EvaluationResult } from './evaluation.js';
import { formatPercent } from './evaluation.js';
import type { EpochRecord, MetricRecord, StepRecord } from './metrics.js';
import { calibrationSection, NOT_RECORDED, selectionList, validationTable, type LabelledResult } from './report-calibration.js';
import { classBarsSvg, confusionSvg, escapeHtml, groupedBarSvg, lineChartSvg, type Series } from './svg-charts.js';

export { escapeHtml, lineChartSvg, groupedBarSvg, classBarsSvg, confusionSvg, reliabilitySvg } from './svg-charts.js';
export { niceTicks, logTicks } from './chart-ticks.js';

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
  /** The backend summary line (`backend: native (…); …` as `selectComputeBackend` returns it, or without the prefix). */
  backend?: string;
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
  const epochs = metrics.filter((m): m is EpochRecord => m.type === 'epoch');
  const stage1Epochs = Math.max(0, ...metrics.filter((m) => m.stage === 1).map((m) => m.epoch + 1));
  const x = (e: EpochRecord) => (e.stage === 2 ? stage1Epochs : 0) + e.epoch + 1;
  const pick = (value: (e: EpochRecord) => number | null | undefined): Array<[number, number]> =>
    epochs.flatMap((e): Array<[number, number]> => {
      const v = value(e);
      return typeof v === 'number' ? [[x(e), v]] : [];
    });
  return [
    { name: 'top-1', points: pick((e) => e.top1) },
    { name: 'many', points: pick((e) => e.many) },
    { name: 'medium', points: pick((e) => e.medium) },
    { name: 'few', points: pick((e) => e.few) },
    { name: 'validation mean per-class', points: pick((e) => e.val?.balancedAccuracy) },
    { name: 'ECE', points: pick((e) => e.ece) },
  ].filter((s) => s.points.length > 0);
}

/** The backend line without a leading `backend:`, so that the header says it once. */
function backendText(backend: string): string {
  return backend.replace(/^\s*backend\s*:\s*/i, '');
}

/** The shot thresholds of the config (the defaults, 100 and 20, when it does not say). */
function shotThresholds(config: unknown): { many: number; few: number } {
  const evaluation = (config as { evaluation?: { manyThreshold?: unknown; fewThreshold?: unknown } } | undefined)?.evaluation;
  return {
    many: typeof evaluation?.manyThreshold === 'number' ? evaluation.manyThreshold : 100,
    few: typeof evaluation?.fewThreshold === 'number' ? evaluation.fewThreshold : 20,
  };
}

type FigureFunction = (title: string, svg: string, note?: string) => string;

const figure: FigureFunction = (title, svg, note = '') =>
  `<figure class="chart"><figcaption>${escapeHtml(title)}</figcaption>${svg}${note ? `<p class="note">${escapeHtml(note)}</p>` : ''}</figure>`;

/** Classes ordered most frequent first (ties by index), the order of every per-class chart. */
function frequencyOrder(counts: number[]): number[] {
  return counts.map((_, i) => i).sort((a, b) => counts[b] - counts[a] || a - b);
}

function resultsSection(data: ReportData): string {
  const last = data.evaluations[data.evaluations.length - 1]?.result;
  const rows = data.evaluations
    .map(({ label, result }) => {
      const cells = [result.top1, result.top5, result.many, result.medium, result.few].map((v) => `<td>${formatPercent(v)}</td>`).join('');
      const ece = result.calibration ? formatPercent(result.calibration.ece) : NOT_RECORDED;
      return `<tr><th>${escapeHtml(label)}</th>${cells}<td>${ece}</td><td>${result.numSamples}</td></tr>`;
    })
    .join('');
  const { many, few } = shotThresholds(data.config);
  const groups = last
    ? `<p class="note">many: ${last.groups.many.length} classes (&gt; ${many} training images), medium: ${last.groups.medium.length} (${few}–${many}), few: ${last.groups.few.length} (&lt; ${few}); an empty group is n/a.</p>`
    : '';
  const selection = data.evaluations.length > 0 ? `<h3>Reported epoch</h3>${selectionList(data.evaluations)}` : '';
  const validation = data.evaluations.some((e) => e.result.validation) ? `<h3>Validation split</h3>${validationTable(data.evaluations)}` : '';
  return (
    `<section><h2>Results</h2><table class="summary"><thead><tr><th></th><th>top-1 %</th><th>top-5 %</th><th>many %</th><th>medium %</th><th>few %</th><th>ECE %</th><th>test images</th></tr></thead><tbody>${
      rows || '<tr><td colspan="8">no evaluation yet</td></tr>'
    }</tbody></table>${groups}${selection}${validation}</section>`
  );
}

function curvesSection(metrics: MetricRecord[]): string {
  return `<section><h2>Training curves</h2>${figure('Training loss per step', lineChartSvg('loss', lossSeries(metrics), 'epoch (stage 2 continues after stage 1)', 'loss'))}${figure(
    'Test accuracy (and ECE, validation accuracy where recorded) per epoch',
    lineChartSvg('accuracy', accuracySeries(metrics), 'epoch', 'accuracy', [0, 1], { percent: true }),
  )}</section>`;
}

function perClassSection(data: ReportData, final: ReportEvaluation, names: string[], order: number[]): string {
  const { result } = final;
  return `<section><h2>Per class</h2>${figure(
    `Per-class accuracy of ${final.label} against class size, most frequent first`,
    classBarsSvg(
      'per-class',
      order.map((i) => names[i]),
      order.map((i) => result.perClassAccuracy[i]),
      'accuracy',
      1,
      { name: 'training images', values: order.map((i) => result.trainCounts[i]) },
      true,
      order,
    ),
  )}${figure(
    'Many / medium / few-shot accuracy',
    groupedBarSvg(
      'shots',
      ['overall', 'many', 'medium', 'few'],
      data.evaluations.map(({ label, result: r }) => ({ name: label, values: [r.top1, r.many, r.medium, r.few] })),
      'accuracy',
    ),
  )}</section>`;
}

function cloudSection(clouds: number[], names: string[], order: number[]): string {
  const cloudOrder = order.length === clouds.length ? order : clouds.map((_, i) => i);
  const maxCloud = Math.max(...clouds, 1e-9);
  return `<section><h2>Cloud sizes</h2>${figure(
    'GCL cloud size δ_j = log max n − log n_j per class, most frequent first',
    classBarsSvg('clouds', cloudOrder.map((i) => names[i] ?? String(i)), cloudOrder.map((i) => clouds[i]), 'cloud size', maxCloud, undefined, false, cloudOrder),
  )}</section>`;
}

function confusionSection(final: ReportEvaluation, names: string[], order: number[]): string {
  return `<section><h2>Confusion matrix</h2>${figure(
    `Row-normalised confusion matrix of ${final.label}: true class in rows, predicted class in columns, most frequent first`,
    confusionSvg('confusion', final.result.confusion, order, 100, names),
  )}</section>`;
}

function classTable(result: EvaluationResult, names: string[], order: number[], cloudSizes?: number[]): string {
  const ece = result.calibration?.perClassEce;
  const rows = order
    .map(
      (i) =>
        `<tr><td>${i}</td><td>${escapeHtml(names[i])}</td><td>${result.trainCounts[i]}</td><td>${formatPercent(result.perClassAccuracy[i])}</td>${ece ? `<td>${formatPercent(ece[i])}</td>` : ''}${
          cloudSizes ? `<td>${cloudSizes[i]?.toFixed(3) ?? ''}</td>` : ''
        }</tr>`,
    )
    .join('');
  const head = `<th>class</th><th>name</th><th>training images</th><th>accuracy %</th>${ece ? '<th>ECE_j %</th>' : ''}${cloudSizes ? '<th>cloud size</th>' : ''}`;
  return `<section><h2>Per-class table</h2><table><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table></section>`;
}

const STYLE = `body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}h1{font-size:22px}h2{font-size:17px;border-bottom:1px solid #ccc}h3{font-size:14px}figure{margin:12px 0}figcaption{font-weight:600;margin-bottom:4px}table{border-collapse:collapse;font-size:13px;margin:6px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td.missing{color:#888;text-align:center}.note{color:#555;font-size:12px}pre{background:#f6f6f6;padding:8px;font-size:12px;overflow:auto}svg{background:#fff;max-width:100%;height:auto}ul.selection{font-size:13px}`;

/** Builds the report HTML (a single string, no external resources). */
export function buildReportHtml(data: ReportData): string {
  const final = data.evaluations[data.evaluations.length - 1];
  const counts = final?.result.trainCounts ?? [];
  const names = data.classNames ?? final?.result.classNames ?? counts.map((_, i) => String(i));
  const order = frequencyOrder(counts);
  const sections = [resultsSection(data), curvesSection(data.metrics)];
  if (final) sections.push(perClassSection(data, final, names, order), calibrationSection(data.evaluations as LabelledResult[], figure));
  if (data.cloudSizes && data.cloudSizes.length > 0) sections.push(cloudSection(data.cloudSizes, names, order));
  if (final) sections.push(confusionSection(final, names, order), classTable(final.result, names, order, data.cloudSizes));
  if (data.config !== undefined) sections.push(`<section><h2>Config</h2><pre>${escapeHtml(JSON.stringify(data.config, null, 2))}</pre></section>`);
  const meta = [data.generatedAt ? `generated ${data.generatedAt}` : '', data.backend ? `backend: ${backendText(data.backend)}` : ''].filter(Boolean).join(' · ');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(
    data.title,
  )}</title><style>${STYLE}</style></head><body><h1>${escapeHtml(data.title)}</h1>${meta ? `<p class="note">${escapeHtml(meta)}</p>` : ''}${sections.join('')}</body></html>\n`;
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
