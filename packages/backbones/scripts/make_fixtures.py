#!/usr/bin/python3
"""Reference fixtures for @longtail/backbones, computed with PyTorch.

Run with Debian's interpreter (torch 1.13 + torchvision 0.14):

    /usr/bin/python3 packages/backbones/scripts/make_fixtures.py

Every weight and every input comes from a closed-form integer hash (`formula_tensor`) that the TypeScript tests
implement identically (`test/helpers/formula.ts`), so only outputs need committing. Weights are periodic in their
flat index (period 1009, a prime, so no layout transposition maps the pattern onto itself); that keeps the gzip'd
safetensors files of ResNet-50 tiny while still detecting any wrong transposition or wrong tensor mapping.

Writes into packages/backbones/test/fixtures/:
  forward_parity.json               eval-mode outputs (+ pooled features) of resnet32 and the ImageNet family
  batchnorm_training.json           one training-mode step of a single BatchNorm2d and of a whole resnet32
  resnet32_dense.safetensors.gz     a torch state dict (F32, with num_batches_tracked as I64), gzip'd
  resnet50_dense.safetensors.gz     idem for torchvision resnet50
  dtypes.safetensors                small tensors stored as F16, BF16, F64, F32, I64 + their values in dtypes.json
"""
import gzip
import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

torch.set_grad_enabled(False)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures')
MASK = 0xFFFFFFFF
PERIOD = 1009


# ---------------------------------------------------------------- closed-form deterministic values
def fnv1a32(text):
    h = 0x811C9DC5
    for byte in text.encode('utf-8'):
        h ^= byte
        h = (h * 0x01000193) & MASK
    return h


def mix32(h):
    """lowbias32 integer hash (C. Wellons), on uint64 numpy arrays holding 32-bit values."""
    h = h ^ (h >> np.uint64(16))
    h = (h * np.uint64(0x7FEB352D)) & np.uint64(MASK)
    h = h ^ (h >> np.uint64(15))
    h = (h * np.uint64(0x846CA68B)) & np.uint64(MASK)
    h = h ^ (h >> np.uint64(16))
    return h


def uniform01(name, count):
    """u in [0, 1): mix32(fnv1a(name) xor mix32(i mod 1009)) / 2^32, float64."""
    j = np.arange(PERIOD, dtype=np.uint64)
    table = mix32(np.uint64(fnv1a32(name)) ^ mix32(j)).astype(np.float64) / 4294967296.0
    return np.resize(table, count)


def formula_tensor(name, shape):
    """The value of the torch-layout tensor `name` of `shape`, float32 (roles decided by name suffix and rank)."""
    count = int(np.prod(shape)) if len(shape) else 1
    u = uniform01(name, count)
    if name.endswith('running_mean'):
        v = 0.1 * (2 * u - 1)
    elif name.endswith('running_var'):
        v = 0.5 + u
    elif len(shape) == 1 and name.endswith('weight'):
        v = 0.5 + 0.5 * u
    elif len(shape) == 1:
        v = 0.1 * (2 * u - 1)
    elif len(shape) == 4:
        fan_in = shape[1] * shape[2] * shape[3]
        v = math.sqrt(6.0 / fan_in) * (2 * u - 1)
    elif len(shape) == 2:
        v = math.sqrt(3.0 / shape[1]) * (2 * u - 1)
    else:
        v = 2 * u - 1
    return v.astype(np.float32).reshape(shape)


def fill_state_dict(model):
    state = model.state_dict()
    for name, tensor in state.items():
        if name.endswith('num_batches_tracked'):
            continue
        tensor.copy_(torch.from_numpy(formula_tensor(name, list(tensor.shape))))


def formula_input_nhwc(name, shape):
    """Inputs: 2u - 1 in NHWC order (the layout the tfjs side feeds), float32."""
    count = int(np.prod(shape))
    return (2 * uniform01(name, count) - 1).astype(np.float32).reshape(shape)


def nhwc_to_nchw(array):
    return torch.from_numpy(np.ascontiguousarray(array.transpose(0, 3, 1, 2)))


# ---------------------------------------------------------------- the reference CIFAR network (LDAM-DRW / GCL code)
class NormedLinear(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.weight = nn.Parameter(torch.Tensor(in_features, out_features))
        self.weight.data.uniform_(-1, 1).renorm_(2, 1, 1e-5).mul_(1e5)

    def forward(self, x):
        return F.normalize(x, dim=1).mm(F.normalize(self.weight, dim=0))


class LambdaLayer(nn.Module):
    def __init__(self, function):
        super().__init__()
        self.function = function

    def forward(self, x):
        return self.function(x)


class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            # option A
            self.shortcut = LambdaLayer(
                lambda x: F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4), 'constant', 0))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = out + self.shortcut(x)
        return F.relu(out)


class ResNetCifar(nn.Module):
    def __init__(self, num_blocks, num_classes=10, use_norm=False):
        super().__init__()
        self.in_planes = 16
        self.conv1 = nn.Conv2d(3, 16, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._make_layer(16, num_blocks, 1)
        self.layer2 = self._make_layer(32, num_blocks, 2)
        self.layer3 = self._make_layer(64, num_blocks, 2)
        self.linear = NormedLinear(64, num_classes) if use_norm else nn.Linear(64, num_classes)

    def _make_layer(self, planes, count, stride):
        layers = []
        for s in [stride] + [1] * (count - 1):
            layers.append(BasicBlock(self.in_planes, planes, s))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def features(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.avg_pool2d(out, out.size()[3])
        return out.view(out.size(0), -1)

    def forward(self, x):
        return self.linear(self.features(x))


def torchvision_features(model, x):
    x = model.maxpool(model.relu(model.bn1(model.conv1(x))))
    x = model.layer4(model.layer3(model.layer2(model.layer1(x))))
    return torch.flatten(model.avgpool(x), 1)


IMAGENET = {
    'resnet50': torchvision.models.resnet50,
    'resnet101': torchvision.models.resnet101,
    'resnet152': torchvision.models.resnet152,
    'resnext50_32x4d': torchvision.models.resnext50_32x4d,
    'resnext101_32x8d': torchvision.models.resnext101_32x8d,
}


def flat(tensor):
    return [float(v) for v in tensor.detach().cpu().numpy().astype(np.float64).ravel()]


# ---------------------------------------------------------------- safetensors writer (format: u64 LE header size,
# JSON header {name: {dtype, shape, data_offsets}}, raw little-endian data)
def write_safetensors(path, tensors, metadata=None, compress=False):
    header = {}
    chunks = []
    offset = 0
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {'dtype': dtype, 'shape': list(shape), 'data_offsets': [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if metadata:
        header['__metadata__'] = metadata
    text = json.dumps(header, separators=(',', ':')).encode('utf-8')
    text += b' ' * ((8 - len(text) % 8) % 8)
    data = struct.pack('<Q', len(text)) + text + b''.join(chunks)
    if compress:
        with gzip.GzipFile(path, 'wb', compresslevel=9, mtime=0) as handle:
            handle.write(data)
    else:
        with open(path, 'wb') as handle:
            handle.write(data)


def state_dict_tensors(model):
    tensors = {}
    for name, tensor in model.state_dict().items():
        if tensor.dtype == torch.int64:
            tensors[name] = ('I64', tensor.shape, tensor.numpy().astype('<i8').tobytes())
        else:
            tensors[name] = ('F32', tensor.shape, tensor.numpy().astype('<f4').tobytes())
    return tensors


def main():
    os.makedirs(OUT, exist_ok=True)
    forward = {'doc': {
        'generator': 'scripts/make_fixtures.py (torch %s, torchvision %s), eval mode, float32' % (
            torch.__version__, torchvision.__version__),
        'weights': 'formula_tensor(torch name, torch shape); input formula_input_nhwc("input", NHWC shape)',
        'outputs': 'flattened row-major (batch, classes); features = global-average-pooled backbone output',
    }, 'cases': []}

    # CIFAR family: resnet32 with both heads (the dense head also checks the (out, in) -> (in, out) transpose)
    for head, classes in [('dense', 10), ('cosine', 100)]:
        model = ResNetCifar(5, classes, use_norm=head == 'cosine').eval()
        fill_state_dict(model)
        x = formula_input_nhwc('input', [2, 32, 32, 3])
        features = model.features(nhwc_to_nchw(x))
        logits = model.linear(features)
        forward['cases'].append({'factory': 'resnet32', 'head': head, 'numClasses': classes,
                                 'inputShape': [2, 32, 32, 3], 'logits': flat(logits), 'features': flat(features)})
        if head == 'dense':
            model.bn1.num_batches_tracked.fill_(7)  # a real value, must be ignored by the importer
            write_safetensors(os.path.join(OUT, 'resnet32_dense.safetensors.gz'), state_dict_tensors(model),
                              {'format': 'pt', 'source': 'make_fixtures.py resnet32 dense 10 classes'}, True)

    for factory, constructor in IMAGENET.items():
        model = constructor(num_classes=1000).eval()
        fill_state_dict(model)
        x = formula_input_nhwc('input', [1, 64, 64, 3])
        features = torchvision_features(model, nhwc_to_nchw(x))
        logits = model.fc(features)
        assert torch.allclose(logits, model(nhwc_to_nchw(x)), rtol=0, atol=0)
        forward['cases'].append({'factory': factory, 'head': 'dense', 'numClasses': 1000,
                                 'inputShape': [1, 64, 64, 3], 'logits': flat(logits), 'features': flat(features)})
        if factory == 'resnet50':
            write_safetensors(os.path.join(OUT, 'resnet50_dense.safetensors.gz'), state_dict_tensors(model),
                              {'format': 'pt', 'source': 'make_fixtures.py torchvision resnet50'}, True)
        print(factory, 'logit range', float(logits.min()), float(logits.max()))

    with open(os.path.join(OUT, 'forward_parity.json'), 'w') as handle:
        json.dump(forward, handle)

    # Batch norm in training mode: a single layer, then a whole resnet32 (dense head) step.
    training = {'doc': {
        'batchnorm': 'BatchNorm2d(4) with formula weights/running stats named bn.*, train(), one forward of '
                     'formula_input_nhwc("bn_input", [3,5,5,4]); output NHWC flattened; running stats after',
        'resnet32': 'resnet32 dense 10 classes, formula weights, train(), one forward of '
                    'formula_input_nhwc("input", [4,32,32,3]); logits and every running stat after',
    }}
    bn = nn.BatchNorm2d(4)
    for key, tensor in bn.state_dict().items():
        if not key.endswith('num_batches_tracked'):
            tensor.copy_(torch.from_numpy(formula_tensor('bn.' + key, list(tensor.shape))))
    bn.train()
    x = formula_input_nhwc('bn_input', [3, 5, 5, 4])
    y = bn(nhwc_to_nchw(x)).permute(0, 2, 3, 1)
    training['batchnorm'] = {'output': flat(y), 'running_mean': flat(bn.running_mean),
                             'running_var': flat(bn.running_var)}
    model = ResNetCifar(5, 10, use_norm=False)
    fill_state_dict(model)
    model.train()
    logits = model(nhwc_to_nchw(formula_input_nhwc('input', [4, 32, 32, 3])))
    training['resnet32'] = {'logits': flat(logits), 'running': {
        name: flat(tensor) for name, tensor in model.state_dict().items()
        if name.endswith('running_mean') or name.endswith('running_var')}}
    # Backpropagation through every custom layer in training mode (fresh model, same weights and input):
    # gradients of sum(logits * G), G = formula_input_nhwc('upstream', [4, 10, 1, 1]) flattened to (4, 10).
    with torch.enable_grad():
        model = ResNetCifar(5, 10, use_norm=True)
        fill_state_dict(model)
        model.train()
        logits = model(nhwc_to_nchw(formula_input_nhwc('input', [4, 32, 32, 3])))
        upstream = torch.from_numpy(formula_input_nhwc('upstream', [4, 10, 1, 1]).reshape(4, 10))
        (logits * upstream).sum().backward()
    parameters = dict(model.named_parameters())
    training['resnet32_cosine_gradients'] = {
        'doc': 'resnet32 cosine head 10 classes, train(), grads of sum(logits * G) in torch layout',
        'logits': flat(logits),
        'gradients': {name: flat(parameters[name].grad) for name in [
            'conv1.weight', 'bn1.weight', 'layer1.0.conv1.weight', 'layer2.0.bn2.bias', 'layer3.0.bn1.bias',
            'layer3.4.bn2.weight', 'linear.weight']},
    }
    with open(os.path.join(OUT, 'batchnorm_training.json'), 'w') as handle:
        json.dump(training, handle)

    # Dtype coverage for the safetensors reader: values exactly as torch stores them.
    values = torch.tensor([0.0, -1.5, 3.140625, 65504.0, 1e-3, -2.5e-5, 123.456, 7.0])
    dtypes = {}
    tensors = {}
    for label, dtype, torch_dtype in [('F16', 'F16', torch.float16), ('BF16', 'BF16', torch.bfloat16),
                                      ('F64', 'F64', torch.float64), ('F32', 'F32', torch.float32)]:
        stored = values.to(torch_dtype).reshape(2, 4)
        raw = stored.view(torch.int16).numpy().astype('<i2').tobytes() if torch_dtype == torch.bfloat16 \
            else stored.numpy().astype(stored.numpy().dtype.newbyteorder('<')).tobytes()
        tensors['values_' + label.lower()] = (dtype, [2, 4], raw)
        dtypes['values_' + label.lower()] = {'dtype': dtype, 'shape': [2, 4], 'values': flat(stored.double())}
    counts = torch.tensor([3, -9, 1 << 40], dtype=torch.int64)
    tensors['counts_i64'] = ('I64', [3], counts.numpy().astype('<i8').tobytes())
    dtypes['counts_i64'] = {'dtype': 'I64', 'shape': [3], 'values': [3, -9, 1 << 40]}
    write_safetensors(os.path.join(OUT, 'dtypes.safetensors'), tensors, {'purpose': 'dtype coverage'})
    with open(os.path.join(OUT, 'dtypes.json'), 'w') as handle:
        json.dump(dtypes, handle, indent=1)
    print('fixtures written to', os.path.normpath(OUT))


if __name__ == '__main__':
    main()
