/**
 * `longtail compare`: finished runs (or seed sweeps) side by side. {@link compareRuns} reads each run directory
 * (see `compare-data.ts` for the files and fields read), {@link compareHtml} renders one self-contained page,
 * {@link compareMarkdown} a table for papers and READMEs, {@link compareCommand} is the command.
 */
import path from 'node:path';
import { writeFileAtomic } from './atomic.js';
import type { CliIo } from './cli-io.js';
import { compareRuns, formatFigure, METRIC_TITLES, type CompareData } from './compare-data.js';
import { compareHtml } from './compare-html.js';

export { compareRuns, compareHtml };
export type { CompareData, ComparedRun, ComparedFigure, CompareMetric, CompareOptions } from './compare-data.js';

const MARKDOWN_METRICS = ['top1', 'many', 'medium', 'few', 'ece'] as const;

/**
 * A Markdown table: one row per run, overall / many / medium / few top-1 accuracy and ECE on the test set, in %
 * with one decimal, `± std` for seed sweeps (sample standard deviation); "not recorded" for an ECE that older
 * results lack, "n/a" for an empty shot group. Warnings follow the table as quoted lines.
 */
export function compareMarkdown(data: CompareData): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|');
  const lines = [
    `| method | ${MARKDOWN_METRICS.map((m) => METRIC_TITLES[m]).join(' | ')} |`,
    `| --- | ${MARKDOWN_METRICS.map(() => '---:').join(' | ')} |`,
    ...data.runs.map((run) => `| ${cell(run.label)} | ${MARKDOWN_METRICS.map((m) => formatFigure(run.metrics[m], m === 'ece' ? 'not recorded' : 'n/a')).join(' | ')} |`),
  ];
  if (data.warnings.length > 0) lines.push('', ...data.warnings.map((warning) => `> warning: ${cell(warning)}`));
  return `${lines.join('\n')}\n`;
}

/**
 * `longtail compare`: writes the HTML page (`out`, default `compare.html` in the working directory) and, with
 * `markdown`, the Markdown table to that file; prints the table and one `wrote <file>` line per file.
 */
export async function compareCommand(options: { runs: string[]; out?: string; markdown?: string; labels?: string[]; io: CliIo }): Promise<void> {
  const { io } = options;
  const data = compareRuns(options.runs, { labels: options.labels, cwd: io.cwd });
  const markdown = compareMarkdown(data);
  const htmlFile = path.resolve(io.cwd, options.out ?? 'compare.html');
  await writeFileAtomic(htmlFile, compareHtml(data));
  io.stdout.write(markdown);
  io.stdout.write(`wrote ${htmlFile}\n`);
  if (options.markdown) {
    const markdownFile = path.resolve(io.cwd, options.markdown);
    await writeFileAtomic(markdownFile, markdown);
    io.stdout.write(`wrote ${markdownFile}\n`);
  }
}
