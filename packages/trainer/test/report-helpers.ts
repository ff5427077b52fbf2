import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export const CHROMIUM = process.env.LONGTAIL_CHROMIUM ?? '/usr/bin/chromium';
export const chromiumAvailable = existsSync(CHROMIUM);
// CI installs chromium: there a missing browser fails the report tests instead of skipping them.
if (!chromiumAvailable && process.env.CI === 'true') throw new Error(`${CHROMIUM} not found: CI must render the reports (apt-get install chromium)`);

export interface RenderedPage {
  errors: string[];
  externalRequests: string[];
  chartNames: string[];
  svgCount: number;
  /** Number of elements matching each selector of `counts`. */
  counts: Record<string, number>;
  screenshot: string;
}

export interface RenderedReport extends RenderedPage {
  confusionCells: number;
  perClassBars: number;
}

/**
 * Opens an HTML file in headless Chromium, collects console errors, requests that leave the file, the charts and
 * the number of elements matching each of `counts`' selectors, and saves a full-page screenshot `screenshotName`.
 */
export async function renderPage(htmlFile: string, screenshotDirectory: string, screenshotName = 'page.png', counts: Record<string, string> = {}): Promise<RenderedPage> {
  const { chromium } = await import('playwright-core');
  const userDataDir = mkdtempSync(path.join(tmpdir(), 'longtail-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  try {
    const page = await context.newPage();
    const errors: string[] = [];
    const externalRequests: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(String(error)));
    page.on('request', (request) => {
      const url = request.url();
      if (!url.startsWith('file:') && !url.startsWith('data:') && !url.startsWith('about:')) externalRequests.push(url);
    });
    await page.goto(pathToFileURL(htmlFile).href, { waitUntil: 'load' });
    const chartNames = await page.$$eval('svg[data-chart]', (nodes) => nodes.map((node) => node.getAttribute('data-chart') ?? ''));
    const svgCount = await page.$$eval('svg', (nodes) => nodes.length);
    const counted: Record<string, number> = {};
    for (const [name, selector] of Object.entries(counts)) counted[name] = await page.$$eval(selector, (nodes) => nodes.length);
    const screenshot = path.join(screenshotDirectory, screenshotName);
    await page.screenshot({ path: screenshot, fullPage: true });
    return { errors, externalRequests, chartNames, svgCount, counts: counted, screenshot };
  } finally {
    await context.close();
  }
}

/** {@link renderPage} for a run report: also the confusion matrix's cells and the per-class chart's bars. */
export async function renderReport(htmlFile: string, screenshotDirectory: string): Promise<RenderedReport> {
  const page = await renderPage(htmlFile, screenshotDirectory, 'report.png', {
    confusionCells: 'svg[data-chart="confusion"] rect',
    perClassBars: 'svg[data-chart="per-class"] rect',
  });
  return { ...page, confusionCells: page.counts.confusionCells, perClassBars: page.counts.perClassBars };
}
