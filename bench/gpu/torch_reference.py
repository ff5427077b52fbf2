"""PyTorch CUDA (eager) reference for bench/gpu: the configurations bench/gpu/bench-entry.mjs runs on longtail-webgpu.

  resnet32-train  ResNet-32 (option-A shortcuts, cosine head; bench/resnet32_reference.py's model), 32x32x3,
                  batch 128, GCL loss (cosine form, s = 30, noise_mul = 0.5, CIFAR-10-LT IF 100 counts), SGD momentum 0.9
  resnet32-infer  ResNet-32 inference, batch 256
  resnet50-train  torchvision ResNet-50 (a local definition of the same layout when torchvision is missing), 224x224x3,
                  batch 64, cross-entropy on 1000 classes, SGD momentum 0.9

fp32 eager, PyTorch's default math settings (reported: cuDNN TF32 for convolutions is on by default, matmul TF32 off;
--no-tf32 turns both off), cudnn.benchmark on (--no-cudnn-benchmark). Each timed step ends with
torch.cuda.synchronize(); the median of the timed steps after warm-up is reported, one JSON line per configuration.
Without CUDA a JSON line says so (exit 2) unless --device cpu (smoke tests, tiny step counts).
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGURATIONS = {
    'resnet32-train': ('resnet32', 'train', 128),
    'resnet32-infer': ('resnet32', 'infer', 256),
    'resnet50-train': ('resnet50', 'train', 64),
}


def emit(record):
    print(json.dumps(record), flush=True)


def parse_arguments():
    parser = argparse.ArgumentParser()
    parser.add_argument('--steps', type=int, default=20)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--configs', default=','.join(CONFIGURATIONS))
    parser.add_argument('--resnet50-size', type=int, default=224)
    parser.add_argument('--max-batch', type=int, default=None, help='clamp every batch (smoke tests)')
    parser.add_argument('--device', default='cuda', help='cuda (default) or cpu (smoke tests only)')
    parser.add_argument('--threads', type=int, default=None, help='torch.set_num_threads (cpu)')
    parser.add_argument('--no-tf32', action='store_true', help='turn TF32 off for convolutions and matmuls (strict fp32)')
    parser.add_argument('--no-cudnn-benchmark', action='store_true')
    arguments = parser.parse_args()
    arguments.configs = [name for name in arguments.configs.split(',') if name]
    for name in arguments.configs:
        if name not in CONFIGURATIONS:
            parser.error(f'--configs: unknown {name} (known: {", ".join(CONFIGURATIONS)})')
    if arguments.steps < 1 or arguments.warmup < 0:
        parser.error('--steps >= 1, --warmup >= 0')
    return arguments


def load_resnet32_reference():
    """bench/resnet32_reference.py: beside this file in the bundle, one folder up in the repository."""
    for directory in (HERE, os.path.dirname(HERE)):
        if os.path.isfile(os.path.join(directory, 'resnet32_reference.py')):
            sys.path.insert(0, directory)
            import resnet32_reference  # noqa: E402
            return resnet32_reference
    raise ImportError('resnet32_reference.py not found beside torch_reference.py nor in its parent folder')


def local_resnet50(nn, num_classes=1000):
    """torchvision's ResNet-50 layout (v1.5: stride on the 3x3 convolution), for machines without torchvision."""

    class Bottleneck(nn.Module):
        expansion = 4

        def __init__(self, in_planes, planes, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(in_planes, planes, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(planes * 4)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = None
            if stride != 1 or in_planes != planes * 4:
                self.downsample = nn.Sequential(nn.Conv2d(in_planes, planes * 4, 1, stride, bias=False), nn.BatchNorm2d(planes * 4))

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            out = self.bn3(self.conv3(out))
            return self.relu(out + identity)

    class ResNet50(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(
                nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)
            )
            layers, in_planes = [], 64
            for planes, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
                for block in range(blocks):
                    layers.append(Bottleneck(in_planes, planes, stride if block == 0 else 1))
                    in_planes = planes * 4
            self.layers = nn.Sequential(*layers)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(2048, num_classes)

        def forward(self, x):
            return self.fc(self.pool(self.layers(self.stem(x))).flatten(1))

    return ResNet50()


def main():
    arguments = parse_arguments()
    base = {'engine': 'pytorch-cuda-eager' if arguments.device == 'cuda' else f'pytorch-{arguments.device}-eager'}
    try:
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
    except Exception as error:  # noqa: BLE001
        emit({**base, 'error': f'import torch failed: {error}'})
        return 1
    base['torch'] = torch.__version__
    if arguments.device == 'cuda' and not torch.cuda.is_available():
        emit({**base, 'error': 'CUDA unavailable (torch.cuda.is_available() is False)', 'cudaBuild': torch.version.cuda})
        return 2
    device = torch.device(arguments.device)
    cuda = device.type == 'cuda'
    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    if cuda:
        torch.backends.cudnn.benchmark = not arguments.no_cudnn_benchmark
        if arguments.no_tf32:
            torch.backends.cudnn.allow_tf32 = False
            torch.backends.cuda.matmul.allow_tf32 = False
        base.update({
            'gpu': torch.cuda.get_device_name(0),
            'cuda': torch.version.cuda,
            'cudnn': torch.backends.cudnn.version(),
            'cudnnBenchmark': torch.backends.cudnn.benchmark,
            'convTf32': torch.backends.cudnn.allow_tf32,
            'matmulTf32': torch.backends.cuda.matmul.allow_tf32,
        })
    synchronize = torch.cuda.synchronize if cuda else (lambda: None)
    torch.manual_seed(0)

    try:
        reference = load_resnet32_reference()
    except Exception as error:  # noqa: BLE001
        reference = None
        reference_error = str(error)
    try:
        import torchvision
        resnet50_source = f'torchvision {torchvision.__version__} resnet50'

        def make_resnet50():
            return torchvision.models.resnet50(num_classes=1000)
    except Exception:  # noqa: BLE001
        resnet50_source = 'local torchvision-layout ResNet-50 (torchvision not importable)'

        def make_resnet50():
            return local_resnet50(nn)

    counts = [math.floor(5000 * 0.01 ** (index / 9)) for index in range(10)]
    delta = torch.log(torch.tensor(float(max(counts)))) - torch.log(torch.tensor(counts, dtype=torch.float32))
    cloud = (delta / delta.max()).to(device)

    status = 0
    for name in arguments.configs:
        model_name, mode, batch = CONFIGURATIONS[name]
        if arguments.max_batch:
            batch = min(batch, arguments.max_batch)
        size = arguments.resnet50_size if model_name == 'resnet50' else 32
        record = {**base, 'config': name, 'model': model_name, 'mode': mode, 'batch': batch, 'inputSize': size}
        try:
            if model_name == 'resnet32':
                if reference is None:
                    raise RuntimeError(reference_error)
                model = reference.ResNet32(num_classes=10).to(device)
                num_classes, source = 10, 'bench/resnet32_reference.py ResNet32 (cosine head)'
            else:
                model = make_resnet50().to(device)
                num_classes, source = 1000, resnet50_source
            images = torch.randn(batch, 3, size, size, device=device)
            labels = (torch.arange(batch) % num_classes).to(device)
            if mode == 'train':
                model.train()
                optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
                if model_name == 'resnet32':
                    criterion, loss_name = (lambda output: reference.gcl_loss(output, labels, cloud)), 'GCL (cosine, s = 30, noise_mul = 0.5)'
                else:
                    criterion, loss_name = (lambda output: F.cross_entropy(output, labels)), 'cross-entropy'

                def step():
                    optimizer.zero_grad(set_to_none=True)
                    loss = criterion(model(images))
                    loss.backward()
                    optimizer.step()
                    synchronize()
            else:
                model.eval()
                loss_name = None

                def step():
                    with torch.no_grad():
                        model(images)
                    synchronize()

            warmup_start = time.perf_counter()
            for _ in range(arguments.warmup):
                step()
            warmup_ms = (time.perf_counter() - warmup_start) * 1000
            timings = []
            for _ in range(arguments.steps):
                start = time.perf_counter()
                step()
                timings.append(time.perf_counter() - start)
            seconds = statistics.median(timings)
            emit({
                **record,
                'imagesPerSecond': round(batch / seconds, 2),
                'medianStepMs': round(seconds * 1000, 2),
                'minStepMs': round(min(timings) * 1000, 2),
                'maxStepMs': round(max(timings) * 1000, 2),
                'steps': arguments.steps,
                'warmup': arguments.warmup,
                'warmupMs': round(warmup_ms),
                'parameters': sum(parameter.numel() for parameter in model.parameters()),
                'modelSource': source,
                **({'loss': loss_name} if loss_name else {}),
                **({'peakGpuMemoryMiB': round(torch.cuda.max_memory_allocated() / 2 ** 20)} if cuda else {}),
                **({'threads': torch.get_num_threads()} if not cuda else {}),
            })
        except Exception as error:  # noqa: BLE001
            emit({**record, 'error': f'{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ""}'})
            status = 1
        finally:
            model = optimizer = images = labels = None
            if cuda:
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
    return status


if __name__ == '__main__':
    sys.exit(main())
