import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import {
  disposeIntermediates,
  padOrCropSpatial,
  reshapeWasm,
  runWasmKernel,
  type TensorInfo,
} from './kernel-helpers.js';

type ExplicitPadding = [[number, number], [number, number], [number, number], [number, number]];
type PaddingAttribute = 'same' | 'valid' | number | ExplicitPadding;
type RoundingMode = 'floor' | 'round' | 'ceil' | undefined;

interface SpatialPadding {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

function assertChannelsLast(dataFormat: unknown, kernelName: string): void {
  if (dataFormat != null && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(`dataFormat: the wasm ${kernelName} kernel supports only 'NHWC', got '${String(dataFormat)}'`);
  }
}

/**
 * Stride-1 NHWC convolution through the wasm Conv2D (XNNPACK) kernel with arbitrary, possibly negative, padding.
 * Negative padding crops the input first; positive padding is handed to XNNPACK, which pads without a copy.
 */
export function convolveWithPadding(
  backend: BackendWasm,
  x: TensorInfo,
  filter: TensorInfo,
  padding: SpatialPadding,
  dilations: [number, number],
): TensorInfo {
  const cropped = padOrCropSpatial(
    backend,
    x,
    Math.min(0, padding.top),
    Math.min(0, padding.bottom),
    Math.min(0, padding.left),
    Math.min(0, padding.right),
  );
  const explicitPadding: ExplicitPadding = [
    [0, 0],
    [Math.max(0, padding.top), Math.max(0, padding.bottom)],
    [Math.max(0, padding.left), Math.max(0, padding.right)],
    [0, 0],
  ];
  const output = runWasmKernel(
    backend,
    'Conv2D',
    { x: cropped, filter },
    { strides: [1, 1], pad: explicitPadding, dilations, dataFormat: 'NHWC', dimRoundingMode: undefined },
  );
  if (cropped !== x) disposeIntermediates(backend, cropped);
  return output;
}

interface BackpropFilterAttributes {
  strides: number | [number, number];
  pad: PaddingAttribute;
  dataFormat?: string;
  dimRoundingMode?: RoundingMode;
  filterShape: [number, number, number, number];
}

/**
 * Filter gradient of a 2-D convolution, computed as another convolution so XNNPACK does the work:
 * `dW[kh, kw, ci, co] = Σ_{n, oh, ow} x[n, oh·s + kh − padTop, ow·s + kw − padLeft, ci] · dy[n, oh, ow, co]`
 * is a stride-1 convolution of `x` transposed to (ci, H, W, n) — batch becomes channels — with `dy` transposed to
 * (OH, OW, n, co) as the filter, dilated by the forward stride. Its output (ci, KH, KW, co) is transposed back.
 */
export function conv2dBackpropFilterWasm(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as unknown as BackpropFilterAttributes;
  assertChannelsLast(attrs.dataFormat, 'Conv2DBackpropFilter');
  const convolutionInfo = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const { filterHeight, filterWidth, strideHeight, strideWidth, inHeight, inWidth, outHeight, outWidth } =
    convolutionInfo;
  const top = convolutionInfo.padInfo.top;
  const left = convolutionInfo.padInfo.left;
  // Chosen so that the output is exactly filterHeight × filterWidth; negative when the forward pass skipped rows.
  const bottom = filterHeight + (outHeight - 1) * strideHeight - inHeight - top;
  const right = filterWidth + (outWidth - 1) * strideWidth - inWidth - left;

  const xTransposed = runWasmKernel(backend, 'Transpose', { x }, { perm: [3, 1, 2, 0] });
  const dyTransposed = runWasmKernel(backend, 'Transpose', { x: dy }, { perm: [1, 2, 0, 3] });
  const gradientTransposed = convolveWithPadding(
    backend,
    xTransposed,
    dyTransposed,
    { top, bottom, left, right },
    [strideHeight, strideWidth],
  );
  disposeIntermediates(backend, xTransposed, dyTransposed);
  const gradient = runWasmKernel(backend, 'Transpose', { x: gradientTransposed }, { perm: [1, 2, 0, 3] });
  disposeIntermediates(backend, gradientTransposed);
  return gradient;
}

interface BackpropInputAttributes {
  strides: number | [number, number];
  pad: PaddingAttribute;
  dataFormat?: string;
  dimRoundingMode?: RoundingMode;
  inputShape: [number, number, number, number];
}

/**
 * Input gradient of a 2-D convolution as a stride-1 convolution:
 * `dx = conv(dilate(dy, stride), rot180(W) with in/out channels swapped)`, padded by `K − 1 − pad` at the top/left
 * and by whatever makes the output exactly the input's height and width at the bottom/right.
 * Dilation inserts `stride − 1` zeros between rows/columns of `dy` (reshape + zero pad, no scatter).
 */
export function conv2dBackpropInputWasm(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): TensorInfo {
  const backend = args.backend as BackendWasm;
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs as unknown as BackpropInputAttributes;
  assertChannelsLast(attrs.dataFormat, 'Conv2DBackpropInput');
  const convolutionInfo = tf.backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const { batchSize, filterHeight, filterWidth, strideHeight, strideWidth, inHeight, inWidth, outHeight, outWidth } =
    convolutionInfo;
  const outChannels = convolutionInfo.outChannels;

  let dilated = dy;
  let dilatedHeight = outHeight;
  let dilatedWidth = outWidth;
  if (strideHeight > 1 || strideWidth > 1) {
    // (N, OH, 1, OW, 1, C) zero-padded to (N, OH, sh, OW, sw, C) = dy with (s − 1) zeros after every row/column.
    const expanded = reshapeWasm(backend, dy, [batchSize, outHeight, 1, outWidth, 1, outChannels]);
    const padded = runWasmKernel(
      backend,
      'PadV2',
      { x: expanded },
      {
        paddings: [
          [0, 0],
          [0, 0],
          [0, strideHeight - 1],
          [0, 0],
          [0, strideWidth - 1],
          [0, 0],
        ],
        constantValue: 0,
      },
    );
    disposeIntermediates(backend, expanded);
    dilatedHeight = outHeight * strideHeight;
    dilatedWidth = outWidth * strideWidth;
    dilated = reshapeWasm(backend, padded, [batchSize, dilatedHeight, dilatedWidth, outChannels]);
    disposeIntermediates(backend, padded);
  }

  const swapped = runWasmKernel(backend, 'Transpose', { x: filter }, { perm: [0, 1, 3, 2] });
  const rotated = runWasmKernel(backend, 'Reverse', { x: swapped }, { dims: [0, 1] });
  disposeIntermediates(backend, swapped);

  const top = filterHeight - 1 - convolutionInfo.padInfo.top;
  const left = filterWidth - 1 - convolutionInfo.padInfo.left;
  const bottom = inHeight + filterHeight - 1 - dilatedHeight - top;
  const right = inWidth + filterWidth - 1 - dilatedWidth - left;
  const gradient = convolveWithPadding(backend, dilated, rotated, { top, bottom, left, right }, [1, 1]);
  disposeIntermediates(backend, rotated);
  if (dilated !== dy) disposeIntermediates(backend, dilated);
  return gradient;
}
