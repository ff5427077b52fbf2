/**
 * The comparison page of `longtail compare`: one self-contained HTML file (inline CSS and SVG, no script, nothing
 * from the network).
 */
import { COMPARE_METRICS, formatFigure, METRIC_TITLES, type CompareData, type CompareMetric, type ComparedRun } from './compare-data.js';
import { classScatterSvg, escapeHtml, groupedBarSvg, type ScatterSeries } from './svg-charts.js';

/** Lower is better for the calibration errors, higher for the accuracies. */
const LOWER_IS_BETTER: ReadonlySet<CompareMetric> = new Set(['ece', 'classwiseEce']);

/** A difference in points, signed, one decimal. */
function formatDelta(delta: number): string {
  const text = Math.abs(delta).toFixed(1);
  return text === '0.0' ? '0.0' : `${delta > 0 ? '+' : '-'}${text}`;
}

function deltaCell(metric: CompareMetric, delta: number | null): string {
  if (delta === null) return '<td class="missing">n/a</td>';
  const text = formatDelta(delta);
  const better = LOWER_IS_BETTER.has(metric) ? delta < 0 : delta > 0;
  const tone = text === '0.0' ? 'same' : better ? 'better' : 'worse';
  return `<td class="${tone}" data-metric="${metric}" data-delta="${delta}">${text}</td>`;
}

function runKind(run: ComparedRun): string {
  return run.kind === 'seeds' ? `${run.seeds?.length ?? 0} seeds` : 'run';
}

function figuresTable(data: CompareData): string {
  const rows = data.runs
    .map((run) => {
      const cells = COMPARE_METRICS.map((metric) => {
        const empty = LOWER_IS_BETTER.has(metric) ? 'not recorded' : 'n/a';
        return `<td data-metric="${metric}">${escapeHtml(formatFigure(run.metrics[metric], empty))}</td>`;
      }).join('');
      return `<tr><th>${escapeHtml(run.label)}</th><td>${runKind(run)}</td>${cells}<td>${run.numSamples ?? 'n/a'}</td><td class="text">${escapeHtml(run.selection)}</td></tr>`;
    })
    .join('');
  const head = COMPARE_METRICS.map((metric) => `<th>${METRIC_TITLES[metric]} %</th>`).join('');
  return `<table class="figures"><thead><tr><th>method</th><th></th>${head}<th>test images</th><th>reported epoch</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function deltasTable(data: CompareData): string {
  if (data.runs.length < 2) return '';
  const rows = data.runs
    .slice(1)
    .map((run, i) => `<tr><th>${escapeHtml(run.label)}</th>${COMPARE_METRICS.map((metric) => deltaCell(metric, data.deltas[i + 1][metric])).join('')}</tr>`)
    .join('');
  const head = COMPARE_METRICS.map((metric) => `<th>Δ ${METRIC_TITLES[metric]}</th>`).join('');
  return `<h2>Differences to ${escapeHtml(data.runs[0].label)}</h2><table class="deltas"><thead><tr><th>method</th>${head}</tr></thead><tbody>${rows}</tbody></table><p class="note">Percentage points; green is better (higher accuracy, lower calibration error), red worse.</p>`;
}

function perClassSeries(run: ComparedRun): ScatterSeries {
  return {
    name: run.label,
    points: run.perClass.map((figure, c) => ({
      x: run.trainCounts[c] ?? 0,
      y: figure.mean,
      title: `${run.classNames?.[c] ?? `class ${c}`}${figure.std !== null ? ` (± ${(100 * figure.std).toFixed(1)})` : ''}`,
    })),
  };
}

function runsList(data: CompareData): string {
  const items = data.runs
    .map((run) => {
      const facts = [
        run.method.dataset ? `data set ${run.method.dataset}` : '',
        `${run.trainCounts.length} classes, ${run.trainCounts.reduce((a, b) => a + b, 0)} training images`,
        run.seeds ? `seeds ${run.seeds.join(', ')} (mean ± sample standard deviation)` : '',
      ].filter(Boolean);
      return `<li><strong>${escapeHtml(run.label)}</strong>: <code>${escapeHtml(run.directory)}</code>; ${escapeHtml(facts.join('; '))}</li>`;
    })
    .join('');
  return `<h2>Runs</h2><ul>${items}</ul>`;
}

const STYLE = `body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}h1{font-size:22px}h2{font-size:17px;border-bottom:1px solid #ccc}figure{margin:12px 0}figcaption{font-weight:600;margin-bottom:4px}table{border-collapse:collapse;font-size:13px;margin:6px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td.text,tbody th{text-align:left}td.missing{color:#888}td.better{color:#1a7f37;font-weight:600}td.worse{color:#c62828;font-weight:600}td.same{color:#555}.note{color:#555;font-size:12px}.warning{background:#fff4e5;border:1px solid #f0b429;padding:8px 12px;margin:12px 0}svg{background:#fff;max-width:100%;height:auto}code{font-size:12px}`;

/**
 * The comparison page: the methods' figures side by side (mean ± std for seed sweeps), the differences to the first
 * run in points (coloured), many/medium/few bars, per-class accuracy against training images (log axis, class
 * names in tooltips), how each run selected its epoch, and a warning when the runs' data differ.
 */
export function compareHtml(data: CompareData): string {
  const warning =
    data.warnings.length > 0
      ? `<div class="warning" role="alert"><strong>${escapeHtml(data.dataDiffer ? "The runs' data differ: not comparable." : 'The runs were not evaluated the same way.')}</strong><ul>${data.warnings
          .map((w) => `<li>${escapeHtml(w)}</li>`)
          .join('')}</ul></div>`
      : '';
  const shots = groupedBarSvg(
    'compare-shots',
    ['overall', 'many', 'medium', 'few'],
    data.runs.map((run) => ({ name: run.label, values: (['top1', 'many', 'medium', 'few'] as const).map((m) => run.metrics[m].mean) })),
    'accuracy',
  );
  const scatter = classScatterSvg('compare-per-class', data.runs.map(perClassSeries), 'training images of the class (log scale)', 'test accuracy');
  const figure = (title: string, svg: string) => `<figure class="chart"><figcaption>${escapeHtml(title)}</figcaption>${svg}</figure>`;
  const title = `longtail compare: ${data.runs.map((run) => run.label).join(' vs ')}`;
  const body = [
    `<h1>${escapeHtml(title)}</h1><p class="note">generated ${escapeHtml(data.generatedAt)} · test-set figures in %; ECE with the runs' calibration bins</p>`,
    warning,
    `<h2>Methods</h2>${figuresTable(data)}`,
    deltasTable(data),
    `<h2>Per class</h2>`,
    figure('Many / medium / few-shot accuracy', shots),
    figure('Per-class accuracy against class size (dots: classes; lines: mean over the classes of each size)', scatter),
    runsList(data),
  ].join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>${body}</body></html>\n`;
}
