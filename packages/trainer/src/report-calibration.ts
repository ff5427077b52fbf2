/**
 * The report's sections on calibration (reliability diagram, ECE table, temperature scaling), on how the reported
 * epoch was selected and on the validation figures. Results written before these were recorded say "not recorded".
 */
import type { CalibrationResult } from './calibration.js';
import type { EvaluationResult, SelectionMode, SelectionRecord } from './evaluation.js';
import { formatPercent } from './evaluation.js';
import { escapeHtml, reliabilitySvg } from './svg-charts.js';

export const NOT_RECORDED = 'not recorded';

export interface LabelledResult {
  label: string;
  result: EvaluationResult;
}

/** A selection mode in words: `selected on the validation split`, `selected on the test set (the paper's protocol)`, `last epoch`. */
export function describeSelectionMode(mode: SelectionMode): string {
  return mode === 'val' ? 'selected on the validation split' : mode === 'test' ? "selected on the test set (the paper's protocol)" : 'last epoch';
}

/**
 * How an epoch was selected, in words: `selected on the validation split (stratified hold-out of the training set),
 * epoch 7 (validation mean per-class accuracy 45.2%)`, `selected on the test set (the paper's protocol), epoch 7 (…)`,
 * `last epoch (7)`, or `selection not recorded` for results written before selection was recorded.
 */
export function describeSelection(selection: SelectionRecord | undefined): string {
  if (!selection) return `selection ${NOT_RECORDED}`;
  const score = (what: string) => (selection.score === null || selection.score === undefined ? '' : ` (${what} ${formatPercent(selection.score)}%)`);
  switch (selection.mode) {
    case 'val': {
      const source =
        selection.validationSource === 'hold-out' ? ' (stratified hold-out of the training set)' : selection.validationSource === 'dataset' ? " (the data set's own validation split)" : '';
      return `${describeSelectionMode('val')}${source}, epoch ${selection.epoch}${score('validation mean per-class accuracy')}`;
    }
    case 'test':
      return `${describeSelectionMode('test')}, epoch ${selection.epoch}${score('test top-1')}`;
    case 'last':
      return `last epoch (${selection.epoch})`;
    default:
      return `selection mode ${String((selection as { mode: unknown }).mode)}, epoch ${(selection as SelectionRecord).epoch}`;
  }
}

const percentCell = (value: number | null | undefined) => `<td>${formatPercent(value)}</td>`;
const notRecordedRow = (label: string, columns: number) => `<tr><th>${escapeHtml(label)}</th><td colspan="${columns}" class="missing">${NOT_RECORDED}</td></tr>`;

/** One line per evaluation: how its epoch was selected. */
export function selectionList(evaluations: LabelledResult[]): string {
  const items = evaluations.map(({ label, result }) => `<li><strong>${escapeHtml(label)}</strong>: ${escapeHtml(describeSelection(result.selection))}</li>`).join('');
  return `<ul class="selection">${items}</ul>`;
}

/** The validation figures of each evaluation (images, top-1, mean per-class accuracy, many/medium/few, ECE). */
export function validationTable(evaluations: LabelledResult[]): string {
  const rows = evaluations
    .map(({ label, result }) => {
      const v = result.validation;
      if (!v) return notRecordedRow(label, 7);
      return `<tr><th>${escapeHtml(label)}</th><td>${v.numSamples}</td>${[v.top1, v.balancedAccuracy, v.many, v.medium, v.few, v.ece].map(percentCell).join('')}</tr>`;
    })
    .join('');
  return `<table class="validation"><thead><tr><th></th><th>validation images</th><th>top-1 %</th><th>mean per-class %</th><th>many %</th><th>medium %</th><th>few %</th><th>ECE %</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function calibrationCells(c: Pick<CalibrationResult, 'ece' | 'classwiseEce' | 'eceByGroup' | 'nll'>): string {
  return [c.ece, c.classwiseEce, c.eceByGroup.many, c.eceByGroup.medium, c.eceByGroup.few].map(percentCell).join('') + `<td>${Number.isFinite(c.nll) ? c.nll.toFixed(3) : 'n/a'}</td>`;
}

/** ECE, classwise ECE, ECE of the many/medium/few-shot classes and NLL of each evaluation. */
export function calibrationTable(evaluations: LabelledResult[]): string {
  const rows = evaluations
    .map(({ label, result }) => (result.calibration ? `<tr><th>${escapeHtml(label)}</th>${calibrationCells(result.calibration)}<td>${result.calibration.bins}</td></tr>` : notRecordedRow(label, 7)))
    .join('');
  return `<table class="calibration"><thead><tr><th></th><th>ECE %</th><th>classwise ECE %</th><th>ECE many %</th><th>ECE medium %</th><th>ECE few %</th><th>NLL</th><th>bins</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** Temperature scaling of each evaluation that has one: T, the split it was fitted on, the figures before and after. */
export function temperatureTable(evaluations: LabelledResult[]): string {
  const rows = evaluations
    .flatMap(({ label, result }) => {
      const t = result.temperatureScaling;
      if (!t) return [];
      const head = `<th rowspan="2">${escapeHtml(label)}</th><td rowspan="2">${Number(t.temperature.toPrecision(4))}</td><td rowspan="2">${t.fittedOn}</td>`;
      return [`<tr>${head}<th>before (T = 1)</th>${calibrationCells(t.before)}</tr>`, `<tr><th>after</th>${calibrationCells(t.after)}</tr>`];
    })
    .join('');
  if (!rows) return '';
  return `<table class="temperature"><thead><tr><th></th><th>T</th><th>fitted on (validation images)</th><th></th><th>ECE %</th><th>classwise ECE %</th><th>ECE many %</th><th>ECE medium %</th><th>ECE few %</th><th>NLL</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** The calibration section: the final evaluation's reliability diagram(s), the ECE table and temperature scaling. */
export function calibrationSection(evaluations: LabelledResult[], figure: (title: string, svg: string, note?: string) => string): string {
  const final = evaluations[evaluations.length - 1];
  if (!final) return '';
  const parts: string[] = [];
  const calibration = final.result.calibration;
  if (calibration) {
    parts.push(
      figure(
        `Reliability diagram (${final.label}, ${calibration.bins} bins): accuracy per top-1 confidence bin against the diagonal`,
        reliabilitySvg('reliability', calibration.reliability),
        `ECE ${formatPercent(calibration.ece)}%: the gap of each bin weighted by its share of the ${final.result.numSamples} test images.`,
      ),
    );
  } else {
    parts.push(`<p class="note">Calibration of ${escapeHtml(final.label)}: ${NOT_RECORDED} (results written before calibration was measured).</p>`);
  }
  const scaled = final.result.temperatureScaling;
  if (scaled) {
    parts.push(figure(`Reliability diagram after temperature scaling (T = ${Number(scaled.temperature.toPrecision(4))}, fitted on ${scaled.fittedOn} validation images)`, reliabilitySvg('reliability-scaled', scaled.after.reliability)));
  }
  parts.push(calibrationTable(evaluations));
  const temperature = temperatureTable(evaluations);
  parts.push(temperature ? `<h3>Temperature scaling</h3>${temperature}<p class="note">Temperature scaling divides the logits by T; the argmax, hence accuracy, does not change.</p>` : `<p class="note">Temperature scaling: not applied.</p>`);
  return `<section><h2>Calibration</h2>${parts.join('')}</section>`;
}
