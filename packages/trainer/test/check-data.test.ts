/**
 * `longtail check-data` on a generated image folder: the data set's own report (a corrupt image, a duplicate across
 * splits), the counts as a run loads them (validation hold-out included), the settings warnings, and the exit code.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { heldOutCount } from '@longtail/datasets';
import { describe, expect, it } from 'vitest';
import { runCli, settingWarnings, resolveConfig } from '../src/index.js';

async function writeClass(directory: string, count: number, salt: number): Promise<void> {
  mkdirSync(directory, { recursive: true });
  for (let k = 0; k < count; k++) {
    const background = { r: (salt * 70 + k * 3) % 256, g: (k * 17) % 256, b: (salt * 40 + 9) % 256 };
    const image = sharp({ create: { width: 12, height: 10, channels: 3, background } });
    writeFileSync(path.join(directory, `img${k}.png`), await image.png().toBuffer());
  }
}

function cli(cwd: string) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    run: (args: string[]) => runCli(args, { stdout: { write: (text: string) => out.push(text) }, stderr: { write: (text: string) => err.push(text) }, cwd, env: {} }),
  };
}

describe('longtail check-data', () => {
  it('reports the folder, the counts a run loads, the warnings, and exits 1 on a corrupt image', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'longtail-check-data-'));
    const folder = path.join(root, 'photos');
    const sizes = { cat: 40, dog: 12, eel: 5 };
    for (const [name, count] of Object.entries(sizes)) await writeClass(path.join(folder, 'train', name), count, name.length + count);
    for (const name of Object.keys(sizes)) await writeClass(path.join(folder, 'test', name), 4, 100 + name.charCodeAt(0));
    // A training image copied into test: a duplicate across splits.
    copyFileSync(path.join(folder, 'train', 'cat', 'img0.png'), path.join(folder, 'test', 'cat', 'copy.png'));
    writeFileSync(path.join(folder, 'train', 'dog', 'broken.jpg'), Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 131 + 17) % 256)));
    const args = ['check-data', '--data.dataset', 'image-folder', '--data.root', folder, '--data.valFraction', '0.25'];

    const broken = cli(root);
    expect(await broken.run(args)).toBe(1);
    const brokenText = broken.out.join('');
    expect(brokenText).toMatch(/broken\.jpg/);
    expect(brokenText).toMatch(/train\/cat\/img0\.png = test\/cat\/copy\.png|test\/cat\/copy\.png = train\/cat\/img0\.png/);

    rmSync(path.join(folder, 'train', 'dog', 'broken.jpg'));
    const clean = cli(root);
    expect(await clean.run([...args, '--json'])).toBe(0);
    const report = JSON.parse(clean.out.join(''));
    // As a run loads it: 25 % of each training class held out for validation (round, at least one, never the last).
    const val = Object.values(sizes).map((n) => heldOutCount(n, 0.25));
    expect(report.classNames).toEqual(['cat', 'dog', 'eel']);
    expect(report.val).toEqual(val);
    expect(report.train).toEqual(Object.values(sizes).map((n, c) => n - val[c]));
    expect(report.test).toEqual([5, 4, 4]);
    expect(report.valSource).toBe('hold-out');
    expect(report.imbalanceRatio).toBeCloseTo((40 - 10) / (5 - 1), 12);
    expect(report.errors).toEqual([]);
    // Three classes with GCL's default s = 30; every class has fewer than 100 images: no many-shot group.
    expect(report.warnings.join('\n')).toMatch(/stage1\.loss\.s is 30 with 3 classes/);
    expect(report.warnings.join('\n')).toMatch(/the many-shot group is empty/);
    expect(report.warnings.join('\n')).toMatch(/identical|duplicate/i);

    const text = cli(root);
    expect(await text.run(args)).toBe(0);
    const printed = text.out.join('');
    expect(printed).toMatch(/^\s+0\s+cat\s+30\s+10\s+5\s+medium$/m);
    expect(printed).toMatch(/^\s+2\s+eel\s+4\s+1\s+4\s+few$/m);
    expect(printed).toContain('warning: stage1.loss.s is 30 with 3 classes');
  });

  it('settingWarnings: a lowered s and non-empty groups give no warning', () => {
    const config = resolveConfig({ stage1: { loss: { name: 'gcl', s: 5 } }, stage2: { loss: { name: 'gcl', s: 5 } } });
    expect(settingWarnings(config, [500, 60, 10], [50, 6, 1])).toEqual([]);
    expect(settingWarnings(config, [500, 60, 1], [50, 6, 0])).toEqual([
      '1 of 3 classes have no validation images (classes 2; a hold-out keeps a class\'s only image for training): selection on the validation split does not see them',
    ]);
  });
});
