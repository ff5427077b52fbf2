import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { cloudSizes, gclAngularLoss, gclLoss } from '../src/index.js';
import { hasGolden, maxAbsDiff, readGolden, relativeError } from './golden.js';

const LOSS_REL = 1e-5;
const GRAD_ABS = 1e-4;

describe.skipIf(!hasGolden)('gclLoss against the official GCLLoss (golden/gcl_loss_cases.json)', () => {
  const cases = hasGolden ? readGolden('gcl_loss_cases.json').cases : [];

  it('covers stage 1, stage 2, weighted and confident cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
  });

  for (const c of cases) {
    it(`${c.name}: loss and d loss / d cosine`, () => {
      const cosine = tf.tensor2d(c.cosine);
      const labels = tf.tensor1d(c.target, 'int32');
      const noise = tf.tensor2d(c.noise);
      const hp = c.hyper_params;
      const options = {
        clsNumList: c.cls_num_list,
        m: hp.m,
        s: hp.s,
        noiseMul: hp.noise_mul,
        focalReduction: hp.train_cls,
        gamma: hp.gamma,
        weight: c.weight,
      };
      const { value, grad } = tf.valueAndGrad((x: tf.Tensor) => gclLoss(x as tf.Tensor2D, labels, noise, options))(cosine);
      expect(relativeError(value.dataSync()[0], c.expected_loss)).toBeLessThanOrEqual(LOSS_REL);
      expect(maxAbsDiff(grad.dataSync(), c.expected_grad_cosine.flat())).toBeLessThanOrEqual(GRAD_ABS);
      tf.dispose([cosine, labels, noise, value, grad]);
    });
  }

  it('cloudSizes equals the official m_list', () => {
    for (const c of cases) {
      expect(maxAbsDiff(cloudSizes(c.cls_num_list), c.m_list_f64)).toBeLessThan(1e-12);
    }
  });
});

describe.skipIf(!hasGolden)('gclAngularLoss against GCLAngLoss (golden/gcl_angular_cases.json)', () => {
  const cases = hasGolden ? readGolden('gcl_angular_cases.json').cases : [];
  for (const c of cases) {
    it(`${c.name}: loss and d loss / d cosine`, () => {
      const cosine = tf.tensor2d(c.cosine);
      const labels = tf.tensor1d(c.target, 'int32');
      const noise = tf.tensor2d(c.noise);
      const hp = c.hyper_params;
      const options = {
        clsNumList: c.cls_num_list,
        m: hp.m,
        epsilon: hp.epsilon,
        s: hp.s,
        easyMargin: hp.easy_margin,
        focalReduction: hp.train_cls,
        gamma: hp.gamma,
      };
      const { value, grad } = tf.valueAndGrad((x: tf.Tensor) => gclAngularLoss(x as tf.Tensor2D, labels, noise, options))(cosine);
      expect(relativeError(value.dataSync()[0], c.expected_loss)).toBeLessThanOrEqual(LOSS_REL);
      expect(maxAbsDiff(grad.dataSync(), c.expected_grad_cosine.flat())).toBeLessThanOrEqual(GRAD_ABS);
      tf.dispose([cosine, labels, noise, value, grad]);
    });
  }
});
