import * as tf from './tf.js';
import { registerBackboneLayers } from './layers.js';
import { nodeFileModules } from './node-builtins.js';

/** Weight shard size of the files we write, the tfjs converter's default (4 MiB). */
const SHARD_BYTES = 4 * 1024 * 1024;
const MODEL_FILE = 'model.json';

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/**
 * A `tf.io.IOHandler` reading and writing a model directory in the standard TensorFlow.js layers format:
 * `model.json` (topology + weights manifest) and `group1-shardKofN.bin` weight shards of at most 4 MiB — the layout
 * `tf.loadLayersModel('https://…/model.json')` reads in the browser. Works in Node only (uses `node:fs`).
 *
 * `model.save(fileSystemHandler(dir))` creates `dir` if needed; `tf.loadLayersModel(fileSystemHandler(dir))` loads.
 */
export function fileSystemHandler(directory: string): tf.io.IOHandler {
  if (typeof directory !== 'string' || directory.length === 0) {
    throw new Error('fileSystemHandler: directory must be a non-empty path string');
  }
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new Error('fileSystemHandler: binary model topologies are not supported, save a tf.LayersModel');
      }
      const { fs, path } = nodeFileModules('fileSystemHandler');
      await fs.mkdir(directory, { recursive: true });
      const weightData = artifacts.weightData == null ? new ArrayBuffer(0) : artifacts.weightData;
      const composite = new tf.io.CompositeArrayBuffer(weightData);
      const shardCount = Math.max(1, Math.ceil(composite.byteLength / SHARD_BYTES));
      const paths: string[] = [];
      for (let shard = 0; shard < shardCount; shard++) {
        const fileName = `group1-shard${shard + 1}of${shardCount}.bin`;
        const start = shard * SHARD_BYTES;
        const end = Math.min(composite.byteLength, start + SHARD_BYTES);
        await fs.writeFile(path.join(directory, fileName), new Uint8Array(composite.slice(start, end)));
        paths.push(fileName);
      }
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology as object,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths, weights: artifacts.weightSpecs ?? [] }],
      };
      if (artifacts.trainingConfig != null) modelJson.trainingConfig = artifacts.trainingConfig;
      if (artifacts.userDefinedMetadata != null) modelJson.userDefinedMetadata = artifacts.userDefinedMetadata;
      await fs.writeFile(path.join(directory, MODEL_FILE), JSON.stringify(modelJson));
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          modelTopologyBytes: JSON.stringify(artifacts.modelTopology).length,
          weightSpecsBytes: JSON.stringify(artifacts.weightSpecs ?? []).length,
          weightDataBytes: composite.byteLength,
        },
      };
    },

    async load(): Promise<tf.io.ModelArtifacts> {
      const { fs, path } = nodeFileModules('fileSystemHandler');
      const modelPath = path.join(directory, MODEL_FILE);
      let modelJson: tf.io.ModelJSON;
      try {
        modelJson = JSON.parse(await fs.readFile(modelPath, 'utf8')) as tf.io.ModelJSON;
      } catch (error) {
        throw new Error(`fileSystemHandler: cannot read ${modelPath}: ${(error as Error).message}`);
      }
      if (modelJson.modelTopology == null) {
        throw new Error(`fileSystemHandler: ${modelPath} has no modelTopology`);
      }
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const weightSpecs: tf.io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          weightSpecs.push(...group.weights);
          for (const shardPath of group.paths) {
            buffers.push(toArrayBuffer(await fs.readFile(path.join(directory, shardPath))));
          }
        }
        return [weightSpecs, tf.io.CompositeArrayBuffer.join(buffers)];
      });
    },
  };
}

/** Save `model` to `directory` (`model.json` + weight shards, tfjs layers format). See {@link fileSystemHandler}. */
export async function saveModel(model: tf.LayersModel, directory: string): Promise<tf.io.SaveResult> {
  if (model == null || typeof model.save !== 'function') throw new Error('saveModel: model must be a tf.LayersModel');
  return model.save(fileSystemHandler(directory));
}

/** Load a model saved by {@link saveModel} (or any tfjs layers model directory). The custom layers are registered. */
export async function loadModel(directory: string): Promise<tf.LayersModel> {
  registerBackboneLayers();
  return tf.loadLayersModel(fileSystemHandler(directory));
}
