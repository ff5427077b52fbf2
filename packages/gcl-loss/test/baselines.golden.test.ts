import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { focalLoss, ldamLoss, ldamMargins } from '../src/index.js';
import { hasGolden, maxAbsDiff, readGolden, relativeError } from './golden.js';

describe.skipIf(!hasGolden)('LDAM and focal against the reference (golden/ldam_focal_cases.json)', () => {
  const golden = hasGolden ? readGolden('ldam_focal_cases.json') : { ldam: [], focal: [] };

  for (const c of golden.ldam) {
    it(`ldamLoss ${c.name}`, () => {
      const x = tf.tensor2d(c.x);
      const labels = tf.tensor1d(c.target, 'int32');
      const options = { clsNumList: c.cls_num_list, maxM: c.max_m, s: c.s, weight: c.weight };
      const { value, grad } = tf.valueAndGrad((t: tf.Tensor) => ldamLoss(t as tf.Tensor2D, labels, options))(x);
      expect(relativeError(value.dataSync()[0], c.expected_loss)).toBeLessThanOrEqual(1e-5);
      expect(maxAbsDiff(grad.dataSync(), c.expected_grad_x.flat())).toBeLessThanOrEqual(1e-4);
      expect(maxAbsDiff(ldamMargins(c.cls_num_list, c.max_m), c.m_list_f64)).toBeLessThan(1e-12);
      tf.dispose([x, labels, value, grad]);
    });
  }

  for (const c of golden.focal) {
    it(`focalLoss ${c.name}`, () => {
      const logits = tf.tensor2d(c.logits);
      const labels = tf.tensor1d(c.target, 'int32');
      const options = { gamma: c.gamma, weight: c.weight };
      const { value, grad } = tf.valueAndGrad((t: tf.Tensor) => focalLoss(t as tf.Tensor2D, labels, options))(logits);
      expect(relativeError(value.dataSync()[0], c.expected_loss)).toBeLessThanOrEqual(1e-5);
      expect(maxAbsDiff(grad.dataSync(), c.expected_grad_logits.flat())).toBeLessThanOrEqual(1e-4);
      tf.dispose([logits, labels, value, grad]);
    });
  }
});
