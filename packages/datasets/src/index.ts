export { DatasetError } from './errors.js';
export {
  CIFAR10_CLASS_NAMES,
  CIFAR100_CLASS_NAMES,
  CIFAR100_COARSE_CLASS_NAMES,
  FASHION_MNIST_CLASS_NAMES,
  MNIST_CLASS_NAMES,
} from './class-names.js';
export { imbalancedCounts, longTailedSubset, indicesByClass, type ImbalancedCountsOptions } from './imbalance.js';
export { makeLongTailed, type LongTailedOptions } from './long-tailed.js';
export { stratifiedSplit, heldOutCount, type StratifiedSplit } from './stratified-split.js';
export { classCounts, manyMediumFew, type ShotGroups } from './statistics.js';
export {
  InMemoryImageDataset,
  FileImageDataset,
  decodeTransformed,
  type ImageSource,
  type InMemoryImageData,
  type FileImageData,
  type DecodeStrictness,
} from './dataset.js';
export {
  CIFAR_MEAN,
  CIFAR_STD,
  IMAGENET_MEAN,
  IMAGENET_STD,
  FASHION_MNIST_MEAN,
  FASHION_MNIST_STD,
  cifarTrainTransform,
  cifarEvalTransform,
  fashionMnistTransform,
  imagenetTrainTransform,
  imagenetEvalTransform,
  transformOutputShape,
  applyCifarTransform,
  randomResizedCropWindow,
  resizeCenterCropGeometry,
  type ImageTransform,
  type CifarTransform,
  type CifarTransformOptions,
  type ImageNetTrainTransform,
  type ImageNetEvalTransform,
  type ColorJitterOptions,
  type CropWindow,
} from './transforms.js';
export { batches, batchCount, imageRandom, type Batch, type BatchOptions } from './batches.js';
export {
  CIFAR_ARCHIVES,
  loadCifar10,
  loadCifar100,
  downloadCifar,
  ensureCifarFiles,
  readCifarBinary,
  type CifarName,
  type CifarLoadOptions,
} from './cifar.js';
export {
  DEBIAN_FASHION_MNIST_DIRECTORY,
  MNIST_FILES,
  loadFashionMnist,
  loadMnist,
  readIdxFile,
  mnistSearchDirectories,
  type IdxArray,
  type MnistLoadOptions,
} from './idx.js';
export { loadFashionMnistEmbedded } from './fashion-mnist-embedded.js';
export {
  readSplitFile,
  loadSplitFileDataset,
  loadImageNetLT,
  loadPlacesLT,
  type SplitFile,
  type SplitFileDatasetOptions,
} from './split-file.js';
export { loadINaturalist2018 } from './inaturalist.js';
export { downloadFile, downloadAndExtract, type DownloadOptions, type DownloadProgress } from './download.js';
export { readTarEntries, extractTarGz, type TarEntry } from './tar.js';
export {
  registerDataset,
  getDataset,
  datasetNames,
  listDatasets,
  AUGMENTATIONS,
  type Augmentation,
  type DatasetSpec,
  type DatasetCheck,
  type DatasetLoadOptions,
  type LoadedDataset,
  type ImageDataset,
} from './registry.js';
export { BUILTIN_DATASETS, DEFAULT_DATASET } from './builtin-datasets.js';
export { configuredLongTail, inMemoryTransforms, fileBackedTransforms, requireSplitFiles } from './spec-helpers.js';
export { syntheticDataset, type SyntheticDatasetOptions } from './synthetic.js';
export {
  loadImageFolder,
  scanImageFolder,
  imageFolderTransforms,
  IMAGE_FOLDER_EXTENSIONS,
  IMAGE_FOLDER_TEST_FRACTION,
  type ImageFolder,
  type ImageFolderOptions,
  type ImageFolderLongTail,
  type ImageFolderPart,
  type ImageFolderScan,
  type ScannedClass,
  type ScannedPart,
} from './image-folder.js';
export {
  checkImageFolder,
  formatDataCheck,
  type DataCheckOptions,
  type DataCheckReport,
  type DataCheckSplit,
  type DataCheckImage,
  type DataCheckDuplicate,
} from './check-data.js';
