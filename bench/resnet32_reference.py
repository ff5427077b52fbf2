"""PyTorch reference for `npm run bench`: the same ResNet-32 (option-A shortcuts, cosine head), SGD momentum 0.9,
GCL loss (cosine form, s = 30, noise_mul = 0.5, CIFAR-10-LT IF 100 counts), 32x32x3 input, training at batch 64 and
128 and inference at batch 256, median of the timed steps after warm-up, torch.set_num_threads(2).
Prints one JSON object per configuration. Run with Debian's /usr/bin/python3 (torch 1.13)."""
import argparse
import json
import math
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class OptionAShortcut(nn.Module):
    def __init__(self, planes):
        super().__init__()
        self.pad = planes // 4

    def forward(self, x):
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))


class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = OptionAShortcut(planes) if stride != 1 or in_planes != planes else nn.Identity()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class NormedLinear(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_features, out_features).uniform_(-1, 1).renorm_(2, 1, 1e-5).mul_(1e5))

    def forward(self, x):
        return F.normalize(x, dim=1).mm(F.normalize(self.weight, dim=0))


class ResNet32(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, in_planes = [], 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            for block in range(5):
                layers.append(BasicBlock(in_planes, planes, stride if block == 0 else 1))
                in_planes = planes
        self.layers = nn.Sequential(*layers)
        self.linear = NormedLinear(64, num_classes)

    def forward(self, x):
        out = self.layers(F.relu(self.bn1(self.conv1(x))))
        return self.linear(F.adaptive_avg_pool2d(out, 1).flatten(1))


def gcl_loss(cosine, labels, cloud, s=30.0, noise_mul=0.5):
    noise = torch.clamp(torch.randn_like(cosine) / 3.0, -1, 1)
    logits = cosine - noise_mul * noise.abs() * cloud
    return F.cross_entropy(s * logits, labels)


def timed(function, steps, warmup):
    for _ in range(warmup):
        function()
    timings = []
    cpu_timings = []
    for _ in range(steps):
        start = time.perf_counter()
        cpu_start = time.process_time()  # all threads of this process
        function()
        timings.append(time.perf_counter() - start)
        cpu_timings.append(time.process_time() - cpu_start)
    return statistics.median(timings), statistics.median(cpu_timings)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--steps', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--only', default=None, help='one configuration, mode:batch (e.g. train:128); default all')
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    torch.manual_seed(0)
    counts = [math.floor(5000 * 0.01 ** (index / 9)) for index in range(10)]
    delta = torch.log(torch.tensor(float(max(counts)))) - torch.log(torch.tensor(counts, dtype=torch.float32))
    cloud = delta / delta.max()

    configurations = (('train', 64), ('train', 128), ('infer', 256))
    if arguments.only is not None:
        mode, _, batch = arguments.only.partition(':')
        configurations = ((mode, int(batch)),)
    for mode, batch in configurations:
        model = ResNet32()
        images = torch.randn(batch, 3, 32, 32)
        labels = torch.arange(batch) % 10
        if mode == 'train':
            model.train()
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

            def step():
                optimizer.zero_grad()
                loss = gcl_loss(model(images), labels, cloud)
                loss.backward()
                optimizer.step()
                loss.item()
        else:
            model.eval()

            def step():
                with torch.no_grad():
                    model(images).sum().item()

        seconds, cpu_seconds = timed(step, arguments.steps, arguments.warmup)
        print(json.dumps({
            'backend': 'pytorch',
            'mode': mode,
            'batch': batch,
            'imagesPerSecond': round(batch / seconds, 2),
            'medianStepMs': round(seconds * 1000, 1),
            'medianCpuMsPerStep': round(cpu_seconds * 1000, 1),
            'threads': arguments.threads,
            'torch': torch.__version__,
            'peakRssMiB': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        }), flush=True)


if __name__ == '__main__':
    main()
