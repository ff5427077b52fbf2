import { backbones, type BackboneFactory } from './models.js';
import { tiny } from './tiny.js';

/** The description of a backbone for the registry (timm's `register_model`): its name and factory. */
export interface BackboneSpec {
  /** The name a config selects it by, e.g. `"resnet32"`. */
  readonly name: string;
  /** One line for `--help` and the docs. */
  readonly description: string;
  /** Builds the network with its classifier head (the model's single output, the head as last layer). */
  readonly create: BackboneFactory;
  /** Whether PyTorch weights (`loadPyTorchWeights`) exist for it: its layers are named after a PyTorch state dict. */
  readonly pytorchWeights: boolean;
}

const FAMILY_DESCRIPTIONS: Record<string, string> = {
  resnet20: 'CIFAR ResNet-20 (32×32 inputs)',
  resnet32: 'CIFAR ResNet-32, the CIFAR-LT backbone of GCL',
  resnet44: 'CIFAR ResNet-44',
  resnet56: 'CIFAR ResNet-56',
  resnet110: 'CIFAR ResNet-110',
  resnet50: 'torchvision ResNet-50 (224×224 inputs)',
  resnet101: 'torchvision ResNet-101',
  resnet152: 'torchvision ResNet-152, the Places-LT backbone',
  resnext50_32x4d: 'torchvision ResNeXt-50 32×4d',
  resnext101_32x8d: 'torchvision ResNeXt-101 32×8d',
};

/** The built-in backbones: every factory of {@link backbones} (PyTorch-identical) and {@link tiny}. */
export const BUILTIN_BACKBONES: readonly BackboneSpec[] = [
  { name: 'tiny', description: 'a two-convolution network for tests and smoke runs', create: tiny, pytorchWeights: false },
  ...Object.entries(backbones).map(([name, create]) => ({ name, description: FAMILY_DESCRIPTIONS[name] ?? name, create, pytorchWeights: true })),
];

/** The backbone of a config that names none: ResNet-32, the paper's CIFAR-LT backbone. */
export const DEFAULT_BACKBONE: string = 'resnet32';

// Filled from the one list of built-ins when the module loads.
const registry = new Map<string, BackboneSpec>(BUILTIN_BACKBONES.map((spec) => [spec.name, spec]));

/**
 * Adds a backbone to the registry, so that tools built on it (the trainer's `model.backbone`) offer it. Throws if
 * the name is taken, unless `override` is set.
 */
export function registerBackbone(spec: BackboneSpec, options: { override?: boolean } = {}): BackboneSpec {
  if (spec === null || typeof spec !== 'object' || typeof spec.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(spec.name)) {
    throw new TypeError(`registerBackbone: spec.name must be a name of letters, digits, ".", "_", "-", got ${JSON.stringify(spec?.name)}`);
  }
  if (typeof spec.create !== 'function') throw new TypeError(`registerBackbone: spec.create of "${spec.name}" must be a function`);
  if (registry.has(spec.name) && !options.override) {
    throw new Error(`registerBackbone: a backbone named "${spec.name}" is already registered (pass { override: true } to replace it)`);
  }
  registry.set(spec.name, spec);
  return spec;
}

/** The registered backbone of this name; throws naming the registered ones otherwise. */
export function getBackbone(name: string): BackboneSpec {
  const spec = registry.get(name);
  if (!spec) throw new RangeError(`unknown backbone ${JSON.stringify(name)} (registered: ${backboneNames().join(', ')})`);
  return spec;
}

/** Names of the registered backbones, built-ins first. */
export function backboneNames(): string[] {
  return [...registry.keys()];
}

/** Every registered backbone spec. */
export function listBackbones(): BackboneSpec[] {
  return [...registry.values()];
}
