import * as tf from './tf.js';
import { initializeWeights } from './initialization.js';
import { AddRelu, BackboneModel, NormedLinear, OptionAShortcut, TorchBatchNorm, TorchConv2D } from './layers.js';

/** Classifier head: cosine `NormedLinear` (GCL's choice, no bias) or a plain dense layer with bias. */
export type HeadKind = 'cosine' | 'dense';

/** Options of every backbone factory. */
export interface BackboneOptions {
  /** Number of classes of the classifier head. */
  numClasses: number;
  /** Classifier head. Default `'cosine'`. */
  head?: HeadKind;
  /** Input `[height, width, channels]`, NHWC float32. Default `[32, 32, 3]` (CIFAR family), `[224, 224, 3]` (ImageNet family). */
  inputShape?: [number, number, number];
  /**
   * Seed of the initial weights: with a seed they are a deterministic function of it (the same seed gives the same
   * network, bit for bit); without one they are drawn from `Math.random`. A safe integer; see `initializeWeights`.
   */
  seed?: number;
}

/** A factory as exported by this package, e.g. {@link resnet32}. */
export type BackboneFactory = (options: BackboneOptions) => tf.LayersModel;

interface ValidatedOptions {
  numClasses: number;
  head: HeadKind;
  inputShape: [number, number, number];
  seed: number | undefined;
}

function validateOptions(
  factoryName: string,
  options: BackboneOptions,
  defaultInputShape: [number, number, number],
): ValidatedOptions {
  if (options == null || typeof options !== 'object') {
    throw new Error(`${factoryName}: options must be an object with numClasses`);
  }
  const { numClasses, head = 'cosine', inputShape = defaultInputShape, seed } = options;
  if (typeof numClasses !== 'number' || !Number.isInteger(numClasses) || numClasses < 1) {
    throw new Error(`${factoryName}: options.numClasses must be a positive integer, got ${String(numClasses)}`);
  }
  if (head !== 'cosine' && head !== 'dense') {
    throw new Error(`${factoryName}: options.head must be 'cosine' or 'dense', got ${String(head)}`);
  }
  if (
    !Array.isArray(inputShape) ||
    inputShape.length !== 3 ||
    !inputShape.every((size) => typeof size === 'number' && Number.isInteger(size) && size >= 1)
  ) {
    throw new Error(
      `${factoryName}: options.inputShape must be [height, width, channels] of positive integers, got ${JSON.stringify(inputShape)}`,
    );
  }
  if (seed !== undefined && (typeof seed !== 'number' || !Number.isSafeInteger(seed))) {
    throw new Error(`${factoryName}: options.seed must be a safe integer, got ${String(seed)}`);
  }
  return { numClasses, head, inputShape: [inputShape[0], inputShape[1], inputShape[2]], seed };
}

type Symbolic = tf.SymbolicTensor;

function apply(layer: tf.layers.Layer, input: Symbolic | Symbolic[]): Symbolic {
  return layer.apply(input) as Symbolic;
}

function convolution(
  name: string,
  input: Symbolic,
  filters: number,
  kernelSize: number,
  strides: number,
  padding: number,
  groups = 1,
): Symbolic {
  return apply(new TorchConv2D({ name, filters, kernelSize, strides, padding, groups }), input);
}

function batchNorm(name: string, input: Symbolic): Symbolic {
  return apply(new TorchBatchNorm({ name }), input);
}

/** `relu(bn(x))` as one layer (PyTorch: `F.relu(self.bn(x))`); fused into one kernel on backends that have it. */
function batchNormRelu(name: string, input: Symbolic): Symbolic {
  return apply(new TorchBatchNorm({ name, activation: 'relu' }), input);
}

function classifierHead(name: string, features: Symbolic, options: ValidatedOptions): Symbolic {
  const layer =
    options.head === 'cosine'
      ? new NormedLinear({ name, units: options.numClasses })
      : tf.layers.dense({
          name,
          units: options.numClasses,
          useBias: true,
          kernelInitializer: 'zeros',
          biasInitializer: 'zeros',
        });
  return apply(layer, features);
}

// ------------------------------------------------------------------------------------------------ CIFAR family

function cifarBasicBlock(prefix: string, input: Symbolic, inputPlanes: number, planes: number, stride: number): Symbolic {
  let out = convolution(`${prefix}.conv1`, input, planes, 3, stride, 1);
  out = batchNormRelu(`${prefix}.bn1`, out);
  out = batchNorm(`${prefix}.bn2`, convolution(`${prefix}.conv2`, out, planes, 3, 1, 1));
  const shortcut =
    stride !== 1 || inputPlanes !== planes
      ? apply(new OptionAShortcut({ name: `${prefix}.shortcut`, padChannels: Math.floor(planes / 4) }), input)
      : input;
  return apply(new AddRelu({ name: `${prefix}.add_relu` }), [out, shortcut]);
}

/**
 * CIFAR ResNet of depth `6·blocksPerStage + 2` (He et al. 2016, as in the LDAM-DRW / GCL code `resnet_cifar.py`):
 * 3×3 conv 16 → three stages of basic blocks (16, 32, 64 channels, strides 1, 2, 2) with option-A shortcuts →
 * global average pooling → head `linear`. Layer names follow the PyTorch state dict (`layer2.0.conv1`, …).
 */
function buildCifarResNet(modelName: string, blocksPerStage: number, rawOptions: BackboneOptions): tf.LayersModel {
  const options = validateOptions(modelName, rawOptions, [32, 32, 3]);
  const input = tf.input({ shape: options.inputShape, name: 'input', dtype: 'float32' });
  let x = batchNormRelu('bn1', convolution('conv1', input, 16, 3, 1, 1));
  let inputPlanes = 16;
  const stages: Array<[number, number]> = [
    [16, 1],
    [32, 2],
    [64, 2],
  ];
  stages.forEach(([planes, firstStride], stageIndex) => {
    for (let block = 0; block < blocksPerStage; block++) {
      x = cifarBasicBlock(`layer${stageIndex + 1}.${block}`, x, inputPlanes, planes, block === 0 ? firstStride : 1);
      inputPlanes = planes;
    }
  });
  const features = apply(tf.layers.globalAveragePooling2d({ name: 'avgpool' }), x);
  const logits = classifierHead('linear', features, options);
  const model = new BackboneModel({ inputs: input, outputs: logits, name: `${modelName}_${options.head}_${options.numClasses}` });
  initializeWeights(model, 'cifar', { seed: options.seed });
  return model;
}

// ---------------------------------------------------------------------------------------------- ImageNet family

interface BottleneckConfiguration {
  blocks: [number, number, number, number];
  groups: number;
  widthPerGroup: number;
}

function bottleneck(
  prefix: string,
  input: Symbolic,
  inputPlanes: number,
  planes: number,
  stride: number,
  configuration: BottleneckConfiguration,
): Symbolic {
  const expansion = 4;
  const width = Math.floor(planes * (configuration.widthPerGroup / 64)) * configuration.groups;
  let out = batchNormRelu(`${prefix}.bn1`, convolution(`${prefix}.conv1`, input, width, 1, 1, 0));
  // torchvision (ResNet v1.5): the stride sits on the 3×3 convolution.
  out = batchNormRelu(`${prefix}.bn2`, convolution(`${prefix}.conv2`, out, width, 3, stride, 1, configuration.groups));
  out = batchNorm(`${prefix}.bn3`, convolution(`${prefix}.conv3`, out, planes * expansion, 1, 1, 0));
  const shortcut =
    stride !== 1 || inputPlanes !== planes * expansion
      ? batchNorm(
          `${prefix}.downsample.1`,
          convolution(`${prefix}.downsample.0`, input, planes * expansion, 1, stride, 0),
        )
      : input;
  return apply(new AddRelu({ name: `${prefix}.add_relu` }), [out, shortcut]);
}

/**
 * torchvision ResNet / ResNeXt with bottleneck blocks: 7×7/2 conv 64 (padding 3) → 3×3/2 max pool (padding 1) →
 * four stages (64, 128, 256, 512 planes ×4 expansion, strides 1, 2, 2, 2) → global average pooling → head `fc`.
 * Layer names follow torchvision's state dict (`layer3.5.conv2`, `layer1.0.downsample.0`, …).
 */
function buildBottleneckResNet(
  modelName: string,
  configuration: BottleneckConfiguration,
  rawOptions: BackboneOptions,
): tf.LayersModel {
  const options = validateOptions(modelName, rawOptions, [224, 224, 3]);
  const input = tf.input({ shape: options.inputShape, name: 'input', dtype: 'float32' });
  let x = batchNormRelu('bn1', convolution('conv1', input, 64, 7, 2, 3));
  // PyTorch pads the max pool with −∞; after a ReLU every window holds a value ≥ 0, so zero padding is identical.
  x = apply(tf.layers.zeroPadding2d({ name: 'maxpool.pad', padding: 1 }), x);
  x = apply(tf.layers.maxPooling2d({ name: 'maxpool', poolSize: 3, strides: 2, padding: 'valid' }), x);
  let inputPlanes = 64;
  [64, 128, 256, 512].forEach((planes, stageIndex) => {
    for (let block = 0; block < configuration.blocks[stageIndex]; block++) {
      const stride = block === 0 && stageIndex > 0 ? 2 : 1;
      x = bottleneck(`layer${stageIndex + 1}.${block}`, x, inputPlanes, planes, stride, configuration);
      inputPlanes = planes * 4;
    }
  });
  const features = apply(tf.layers.globalAveragePooling2d({ name: 'avgpool' }), x);
  const logits = classifierHead('fc', features, options);
  const model = new BackboneModel({ inputs: input, outputs: logits, name: `${modelName}_${options.head}_${options.numClasses}` });
  initializeWeights(model, 'torchvision', { seed: options.seed });
  return model;
}

// ------------------------------------------------------------------------------------------------- factories

/** ResNet-20 for 32×32 inputs (3 basic blocks per stage, option-A shortcuts, 0.27 M parameters). */
export const resnet20: BackboneFactory = (options) => buildCifarResNet('resnet20', 3, options);
/** ResNet-32 for 32×32 inputs, the CIFAR-LT backbone of GCL (5 blocks per stage; 464,154 parameters with a 10-class dense head, 464,144 cosine). */
export const resnet32: BackboneFactory = (options) => buildCifarResNet('resnet32', 5, options);
/** ResNet-44 for 32×32 inputs (7 basic blocks per stage). */
export const resnet44: BackboneFactory = (options) => buildCifarResNet('resnet44', 7, options);
/** ResNet-56 for 32×32 inputs (9 basic blocks per stage). */
export const resnet56: BackboneFactory = (options) => buildCifarResNet('resnet56', 9, options);
/** ResNet-110 for 32×32 inputs (18 basic blocks per stage). */
export const resnet110: BackboneFactory = (options) => buildCifarResNet('resnet110', 18, options);

/** torchvision ResNet-50 (bottleneck blocks 3-4-6-3; 25,557,032 parameters with a 1000-class dense head). */
export const resnet50: BackboneFactory = (options) =>
  buildBottleneckResNet('resnet50', { blocks: [3, 4, 6, 3], groups: 1, widthPerGroup: 64 }, options);
/** torchvision ResNet-101 (3-4-23-3; 44,549,160 parameters with a 1000-class dense head). */
export const resnet101: BackboneFactory = (options) =>
  buildBottleneckResNet('resnet101', { blocks: [3, 4, 23, 3], groups: 1, widthPerGroup: 64 }, options);
/** torchvision ResNet-152 (3-8-36-3; 60,192,808 parameters with a 1000-class dense head), the Places-LT backbone. */
export const resnet152: BackboneFactory = (options) =>
  buildBottleneckResNet('resnet152', { blocks: [3, 8, 36, 3], groups: 1, widthPerGroup: 64 }, options);
/** torchvision ResNeXt-50 32×4d (grouped 3×3 convolutions; 25,028,904 parameters with a 1000-class dense head). */
export const resnext50_32x4d: BackboneFactory = (options) =>
  buildBottleneckResNet('resnext50_32x4d', { blocks: [3, 4, 6, 3], groups: 32, widthPerGroup: 4 }, options);
/** torchvision ResNeXt-101 32×8d (88,791,336 parameters with a 1000-class dense head). */
export const resnext101_32x8d: BackboneFactory = (options) =>
  buildBottleneckResNet('resnext101_32x8d', { blocks: [3, 4, 23, 3], groups: 32, widthPerGroup: 8 }, options);

/** Every factory by name, e.g. for command-line tools: `backbones['resnet32']({ numClasses: 10 })`. */
export const backbones = {
  resnet20,
  resnet32,
  resnet44,
  resnet56,
  resnet110,
  resnet50,
  resnet101,
  resnet152,
  resnext50_32x4d,
  resnext101_32x8d,
} as const satisfies Record<string, BackboneFactory>;

/** Name of one of the ten factories. */
export type BackboneName = keyof typeof backbones;
