import { loadINaturalist2018 } from './inaturalist.js';
import type { DatasetSpec, LoadedDataset } from './registry.js';
import { fileBackedTransforms, requireSplitFiles } from './spec-helpers.js';
import { loadImageNetLT, loadPlacesLT } from './split-file.js';
import type { FileImageDataset } from './dataset.js';

function splitFileSpec(
  name: string,
  description: string,
  splitFiles: { train: string; test: string },
  load: (file: string, root: string) => Promise<FileImageDataset>,
): DatasetSpec {
  return {
    name,
    description,
    fileBacked: true,
    splitFiles,
    augmentation: 'imagenet',
    async load(options): Promise<LoadedDataset> {
      const { trainFile, testFile, root } = requireSplitFiles(options, name);
      const train = await load(trainFile, root);
      const test = await load(testFile, root);
      return {
        train,
        test,
        ...fileBackedTransforms(options, name),
        description: `${name} images under ${root} (train ${trainFile}, test ${testFile})`,
      };
    },
  };
}

/** Registry entry `"imagenet-lt"`: the OLTR split files (`ImageNet_LT_train.txt`, `…_test.txt`) under the root. */
export const imageNetLTSpec: DatasetSpec = splitFileSpec(
  'imagenet-lt',
  'ImageNet-LT: OLTR split files, images under the data root (Liu et al. 2019)',
  { train: 'ImageNet_LT_train.txt', test: 'ImageNet_LT_test.txt' },
  (splitFile, root) => loadImageNetLT({ splitFile, root }),
);

/** Registry entry `"places-lt"`: the OLTR split files (`Places_LT_train.txt`, `…_test.txt`) under the root. */
export const placesLTSpec: DatasetSpec = splitFileSpec(
  'places-lt',
  'Places-LT: OLTR split files, images under the data root',
  { train: 'Places_LT_train.txt', test: 'Places_LT_test.txt' },
  (splitFile, root) => loadPlacesLT({ splitFile, root }),
);

/** Registry entry `"inaturalist2018"`: the COCO-style annotation files (`train2018.json`, `val2018.json`). */
export const iNaturalist2018Spec: DatasetSpec = splitFileSpec(
  'inaturalist2018',
  'iNaturalist 2018: COCO-style annotation files, images under the data root',
  { train: 'train2018.json', test: 'val2018.json' },
  (annotationFile, root) => loadINaturalist2018({ annotationFile, root }),
);
