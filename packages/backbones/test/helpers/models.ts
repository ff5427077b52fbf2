import type * as tf from '@tensorflow/tfjs';
import { loadStateDict, stateDictShapes } from '../../src/index.js';
import { formulaStateDict } from './formula.js';

/** (PyTorch name, PyTorch shape) of every tensor the model expects, from the package's own mapping. */
export function expectedTorchTensors(model: tf.LayersModel): Array<[string, number[]]> {
  return stateDictShapes(model);
}

/** Give `model` the closed-form weights of scripts/make_fixtures.py, through the state-dict importer. */
export function loadFormulaWeights(model: tf.LayersModel): void {
  loadStateDict(model, formulaStateDict(expectedTorchTensors(model)));
}
