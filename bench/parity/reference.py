"""PyTorch side of `npm run parity` (bench/parity/run.mjs): an independent ResNet (CIFAR family, option-A shortcuts,
cosine head = NormedLinear) and the GCL loss written from /work/shared/GCL-METHOD.md, trained on exactly the inputs
the TensorFlow.js side recorded.

Protocol (stdin, binary, one message after another): 8-byte little-endian length of a UTF-8 JSON header, the header,
then the raw little-endian payloads of the tensors the header lists (`tensors: [{name, dtype, shape}]`, in order).
Messages: `init` (config + path of the initial weights as .safetensors), `step` (one training step's inputs),
`compare` (path of the TensorFlow.js weights as .safetensors, after stage `stage`), `end`.
stdout: one JSON object per line (`step`: the PyTorch loss of that step; `compare`: parameter differences).

Run with Debian's /usr/bin/python3 (torch 1.13). Nothing here imports the JavaScript code's conventions beyond the
PyTorch state-dict names (conv1, bn1, layer2.0.conv1, …, linear.weight of shape (in, out)).
"""
import json
import math
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPES = {'F32': np.float32, 'F64': np.float64, 'I32': np.int32, 'I64': np.int64, 'U8': np.uint8}


# ------------------------------------------------------------------------------------------------ safetensors

def read_safetensors(path):
    """A minimal safetensors reader: 8-byte LE header length, JSON header, raw little-endian data."""
    with open(path, 'rb') as handle:
        data = handle.read()
    (length,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8:8 + length].decode('utf-8'))
    base = 8 + length
    tensors = {}
    for name, entry in header.items():
        if name == '__metadata__':
            continue
        begin, end = entry['data_offsets']
        dtype = np.dtype(DTYPES[entry['dtype']]).newbyteorder('<')
        tensors[name] = np.frombuffer(data, dtype=dtype, count=(end - begin) // dtype.itemsize, offset=base + begin).reshape(entry['shape']).astype(dtype.newbyteorder('='))
    return tensors


# ------------------------------------------------------------------------------------------------ model

class OptionAShortcut(nn.Module):
    """He et al. option A: x[:, :, ::2, ::2] with planes // 4 zero channels on each side."""

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
    """Cosine classifier of the LDAM-DRW / GCL code: weight (in, out), normalize(x, dim=1) @ normalize(W, dim=0)."""

    def __init__(self, in_features, out_features):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_features, out_features).uniform_(-1, 1).renorm_(2, 1, 1e-5).mul_(1e5))

    def forward(self, x):
        return F.normalize(x, dim=1).mm(F.normalize(self.weight, dim=0))


class CifarResNet(nn.Module):
    """ResNet-(6n+2) of resnet_cifar.py: conv 16 → 3 stages (16, 32, 64; strides 1, 2, 2) → avg pool → linear."""

    def __init__(self, blocks_per_stage, num_classes, in_channels=3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        in_planes = 16
        for index, (planes, stride) in enumerate(((16, 1), (32, 2), (64, 2))):
            blocks = []
            for block in range(blocks_per_stage):
                blocks.append(BasicBlock(in_planes, planes, stride if block == 0 else 1))
                in_planes = planes
            setattr(self, f'layer{index + 1}', nn.Sequential(*blocks))
        self.linear = NormedLinear(64, num_classes)

    def features(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        return F.adaptive_avg_pool2d(out, 1).flatten(1)

    def forward(self, x):
        return self.linear(self.features(x))


BLOCKS = {'resnet20': 3, 'resnet32': 5, 'resnet44': 7, 'resnet56': 9, 'resnet110': 18}


# ------------------------------------------------------------------------------------------------ GCL (from the method page)

def cloud_sizes(counts):
    counts = np.maximum(np.asarray(counts, dtype=np.float64), 1)
    delta = np.log(counts.max()) - np.log(counts)
    largest = delta.max()
    # Equal counts: the official code divides 0 by 0; the limit (no noise) keeps the loss plain CE.
    return delta / largest if largest > 0 else np.zeros_like(delta)


def class_weights(rule, counts):
    """Per-class loss weights w / Σ w (re-weighting), or None."""
    n = np.maximum(np.asarray(counts, dtype=np.float64), 1)
    if rule == 'none':
        return None
    if rule == 'balanced':
        w = 1.0 / n
    elif rule == 'effective-number':
        beta = 0.9999
        w = (1 - beta) / (1 - np.power(beta, n))
    elif rule == 'class-based-effective-number':
        # β_j = β_a + β_b · δ̂_j in float32, as the official code (numpy keeps log(n)'s float32).
        log_counts = np.log(n.astype(np.float32))
        delta = (log_counts.max() - log_counts).astype(np.float32)
        span = np.float32(delta.max() - delta.min())
        scaled = ((delta - delta.min()) / span).astype(np.float32) if span > 0 else np.zeros_like(delta)
        betas = (np.float32(0.9999) + np.float32(1e-5) * scaled).astype(np.float32)
        w = (1 - betas.astype(np.float64)) / (1 - np.power(betas.astype(np.float64), n))
    else:
        raise ValueError(f'unknown weighting rule {rule}')
    return w / w.sum()


class GclLoss:
    def __init__(self, counts, m, s, noise_mul, weight, train_cls, gamma, dtype):
        self.relative = torch.tensor(cloud_sizes(counts), dtype=dtype)
        self.m, self.s, self.noise_mul = m, s, noise_mul
        self.weight = None if weight is None else torch.tensor(weight, dtype=dtype)
        self.train_cls, self.gamma = train_cls, gamma

    def __call__(self, cosine, target, noise):
        # z = cos − noise_mul·|ε|·δ_j/max δ on every column, then the margin m on the target column, then the scale s.
        z = cosine - self.noise_mul * noise.abs() * self.relative
        index = F.one_hot(target, cosine.shape[1]).bool()
        z = torch.where(index, z - self.m, z)
        logits = self.s * z
        if not self.train_cls:
            return F.cross_entropy(logits, target, weight=self.weight)
        per_sample = F.cross_entropy(logits, target, weight=self.weight, reduction='none')
        if self.gamma == 0:
            return per_sample.mean()
        p = torch.exp(-per_sample.detach())
        return ((1 - p) ** self.gamma * per_sample).mean()


def official_stage1_lr(epoch, base, warmup, milestones, gamma):
    if warmup > 0 and epoch + 1 <= warmup:
        return base * (epoch + 1) / warmup
    return base * gamma ** sum(1 for m in milestones if epoch >= m)


def official_stage2_lr(epoch, base, total):
    return base * (1 + math.cos(math.pi * min(epoch, total) / total)) / 2


# ------------------------------------------------------------------------------------------------ protocol

def read_exact(stream, count):
    chunks = []
    while count > 0:
        chunk = stream.read(count)
        if not chunk:
            raise EOFError('stream ended')
        chunks.append(chunk)
        count -= len(chunk)
    return b''.join(chunks)


def read_message(stream):
    head = stream.read(8)
    if not head:
        return None, None
    if len(head) < 8:
        head += read_exact(stream, 8 - len(head))
    (length,) = struct.unpack('<Q', head)
    header = json.loads(read_exact(stream, length).decode('utf-8'))
    tensors = {}
    for entry in header.get('tensors', []):
        dtype = np.dtype(DTYPES[entry['dtype']]).newbyteorder('<')
        count = int(np.prod(entry['shape'])) if entry['shape'] else 1
        raw = read_exact(stream, count * dtype.itemsize)
        tensors[entry['name']] = np.frombuffer(raw, dtype=dtype).reshape(entry['shape']).astype(dtype.newbyteorder('='))
    return header, tensors


def emit(record):
    sys.stdout.write(json.dumps(record) + '\n')
    sys.stdout.flush()


def relative_difference(ours, torch_value):
    ours = np.asarray(ours, dtype=np.float64)
    theirs = np.asarray(torch_value, dtype=np.float64)
    scale = np.abs(theirs).max()
    diff = np.abs(ours - theirs).max()
    return float(diff / scale) if scale > 0 else float(diff)


class Replica:
    """One PyTorch copy of the network, its losses and optimisers, trained on the recorded steps."""

    def __init__(self, config, initial, dtype):
        self.dtype = dtype
        self.model = CifarResNet(BLOCKS[config['backbone']], config['numClasses'], config['inputShape'][2])
        state = self.model.state_dict()
        expected = set(state)
        missing = sorted(expected - set(initial))
        unexpected = sorted(set(initial) - expected)
        if missing or unexpected:
            raise SystemExit(f'reference.py: state dict mismatch: missing {missing}, unexpected {unexpected}')
        for name in expected:
            if tuple(state[name].shape) != tuple(initial[name].shape):
                raise SystemExit(f'reference.py: {name} has shape {tuple(initial[name].shape)}, expected {tuple(state[name].shape)}')
        # Strict: our exportStateDict must produce exactly PyTorch's state_dict(), num_batches_tracked included.
        self.model.load_state_dict({name: torch.from_numpy(np.array(value)) for name, value in initial.items()}, strict=True)
        self.model.to(dtype)
        counts = config['counts']
        self.stages = {}
        for stage in (1, 2):
            settings = config[f'stage{stage}']
            loss = settings['loss']
            weight = class_weights(loss['weighting'], counts)
            criterion = GclLoss(counts, loss['m'], loss['s'], loss['noiseMul'], weight, stage == 2, loss['gamma'], dtype)
            self.stages[stage] = {'settings': settings, 'criterion': criterion, 'optimizer': None}

    def batches_tracked(self):
        return {name: int(value) for name, value in self.model.state_dict().items() if name.endswith('num_batches_tracked')}

    def state(self):
        return {name: value.detach().double().numpy() for name, value in self.model.state_dict().items() if not name.endswith('num_batches_tracked')}

    def step(self, header, tensors):
        model, dtype = self.model, self.dtype
        stage = header['stage']
        entry = self.stages[stage]
        settings = entry['settings']
        if entry['optimizer'] is None:
            # Stage 1 trains every parameter; stage 2 only the classifier (a new optimiser, fresh momentum).
            params = list(model.parameters()) if stage == 1 else [model.linear.weight]
            entry['optimizer'] = torch.optim.SGD(params, lr=header['lr'], momentum=settings['momentum'], weight_decay=settings['weightDecay'])
        optimizer = entry['optimizer']
        for group in optimizer.param_groups:
            group['lr'] = header['lr']
        images = torch.from_numpy(tensors['images']).permute(0, 3, 1, 2).contiguous().to(dtype)
        labels = torch.from_numpy(tensors['labels'].astype(np.int64))
        lam = header['lambda']
        permutation = torch.from_numpy(tensors['permutation'].astype(np.int64)) if 'permutation' in tensors else None
        noise_a = torch.from_numpy(tensors['noiseA']).to(dtype)
        noise_b = torch.from_numpy(tensors['noiseB']).to(dtype) if 'noiseB' in tensors else None
        criterion = entry['criterion']
        mixed = lam * images + (1 - lam) * images[permutation] if permutation is not None else images
        optimizer.zero_grad()
        if stage == 1:
            model.train()
            logits = model(mixed)
        else:
            # Frozen backbone, batch norm in eval mode; only the classifier sees gradients.
            model.eval()
            with torch.no_grad():
                features = model.features(mixed)
            logits = model.linear(features)
        value = criterion(logits, labels, noise_a)
        if permutation is not None:
            value = lam * value + (1 - lam) * criterion(logits, labels[permutation], noise_b)
        value.backward()
        optimizer.step()
        return float(value.item())


def compare(ours, theirs):
    per_tensor = {name: relative_difference(ours[name], theirs[name]) for name in sorted(theirs) if name in ours}
    worst = max(per_tensor, key=per_tensor.get)
    top = sorted(per_tensor.items(), key=lambda item: -item[1])[:5]
    return per_tensor, worst, [{'name': name, 'relativeDifference': value} for name, value in top]


def expected_lr(header, settings):
    """The schedule of the method page, recomputed here: the recorded lr must agree with it."""
    if header['stage'] == 1:
        schedule = settings['schedule']
        return official_stage1_lr(header['epoch'], settings['lr'], schedule['warmupEpochs'], schedule['milestones'], schedule['gamma'])
    return official_stage2_lr(header['epoch'], settings['lr'], settings['epochs']) if settings['scheduleType'] == 'cosine' else settings['lr']


def main():
    stream = sys.stdin.buffer
    header, _ = read_message(stream)
    if header is None or header.get('kind') != 'init':
        raise SystemExit('reference.py: expected an init message first')
    config = header['config']
    torch.set_num_threads(int(config.get('threads', 2)))
    dtype = torch.float64 if config.get('dtype') == 'float64' else torch.float32
    initial = read_safetensors(header['weights'])
    main_replica = Replica(config, initial, dtype)
    # --shadow: a float64 copy trained alongside, to tell float32 rounding (which both float32 runs have) from a real difference.
    shadow = Replica(config, initial, torch.float64) if config.get('shadow') else None

    while True:
        header, tensors = read_message(stream)
        if header is None or header['kind'] == 'end':
            break
        if header['kind'] == 'compare':
            ours = read_safetensors(header['weights'])
            theirs = main_replica.state()
            per_tensor, worst, top = compare(ours, theirs)
            record = {'kind': 'compare', 'stage': header['stage'], 'maxRelativeParameterDifference': per_tensor[worst], 'worstParameter': worst,
                      'largest': top, 'tensors': len(per_tensor), 'missing': sorted(set(theirs) - set(ours)),
                      'batchesTrackedMismatches': sorted(name for name, count in main_replica.batches_tracked().items()
                                                         if name not in ours or int(ours[name]) != count)}
            if shadow is not None:
                reference = shadow.state()
                per, worst64, _ = compare(ours, reference)
                record['oursVsFloat64'] = {'maxRelativeParameterDifference': per[worst64], 'worstParameter': worst64}
                per, worst64, _ = compare(theirs, reference)
                record['torchVsFloat64'] = {'maxRelativeParameterDifference': per[worst64], 'worstParameter': worst64}
            emit(record)
            continue
        if header['kind'] != 'step':
            raise SystemExit(f"reference.py: unknown message {header['kind']}")
        record = {'kind': 'step', 'index': header['index'], 'stage': header['stage'], 'step': header['step'], 'lossTorch': main_replica.step(header, tensors),
                  'lrRecorded': header['lr'], 'lrMethod': expected_lr(header, config[f"stage{header['stage']}"])}
        if shadow is not None:
            record['lossFloat64'] = shadow.step(header, tensors)
        emit(record)


if __name__ == '__main__':
    main()
