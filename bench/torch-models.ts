/**
 * MobileFaceNet and IResNet from InsightFace's arcface_torch (backbones/mobilefacenet.py, iresnet.py) and
 * the ArcFace loss, as a Python program for /usr/bin/python3 (Debian's python3-torch): the PyTorch side of
 * bench/train.ts and bench/saved-activations.ts. test/nn checks that the engine's modules have the same
 * parameter names and shapes. Run with `-c` and argv: name, batch, classes, iters, warm-up, threads; it
 * prints one JSON line. A program that sets MODE_SAVED=1 in its environment instead reports the bytes
 * of the tensors autograd saves for the backward pass; MODE_PROFILE=1, torch.profiler's self time
 * per aten op and step.
 */
export const PYTHON = '/usr/bin/python3';

export const TORCH_MODELS = String.raw`
import torch, time, json, sys
from torch import nn
from torch.nn import BatchNorm1d, BatchNorm2d, Conv2d, Linear, Module, PReLU, Sequential
import torch.nn.functional as F

class Flatten(Module):
    def forward(self, x): return x.view(x.size(0), -1)
class ConvBlock(Module):
    def __init__(self, in_c, out_c, kernel=(1, 1), stride=(1, 1), padding=(0, 0), groups=1):
        super().__init__()
        self.layers = nn.Sequential(Conv2d(in_c, out_c, kernel, groups=groups, stride=stride, padding=padding, bias=False), BatchNorm2d(out_c), PReLU(out_c))
    def forward(self, x): return self.layers(x)
class LinearBlock(Module):
    def __init__(self, in_c, out_c, kernel=(1, 1), stride=(1, 1), padding=(0, 0), groups=1):
        super().__init__()
        self.layers = nn.Sequential(Conv2d(in_c, out_c, kernel, stride, padding, groups=groups, bias=False), BatchNorm2d(out_c))
    def forward(self, x): return self.layers(x)
class DepthWise(Module):
    def __init__(self, in_c, out_c, residual=False, kernel=(3, 3), stride=(2, 2), padding=(1, 1), groups=1):
        super().__init__()
        self.residual = residual
        self.layers = nn.Sequential(ConvBlock(in_c, out_c=groups), ConvBlock(groups, groups, groups=groups, kernel=kernel, padding=padding, stride=stride), LinearBlock(groups, out_c))
    def forward(self, x):
        y = self.layers(x)
        return x + y if self.residual else y
class Residual(Module):
    def __init__(self, c, num_block, groups, kernel=(3, 3), stride=(1, 1), padding=(1, 1)):
        super().__init__()
        self.layers = Sequential(*[DepthWise(c, c, True, kernel, stride, padding, groups) for _ in range(num_block)])
    def forward(self, x): return self.layers(x)
class GDC(Module):
    def __init__(self, embedding_size):
        super().__init__()
        self.layers = nn.Sequential(LinearBlock(512, 512, groups=512, kernel=(7, 7)), Flatten(), Linear(512, embedding_size, bias=False), BatchNorm1d(embedding_size))
    def forward(self, x): return self.layers(x)
class MobileFaceNet(Module):
    def __init__(self, num_features=512, blocks=(1, 4, 6, 2), scale=2):
        super().__init__()
        s = scale
        self.layers = nn.ModuleList()
        self.layers.append(ConvBlock(3, 64 * s, kernel=(3, 3), stride=(2, 2), padding=(1, 1)))
        self.layers.append(ConvBlock(64 * s, 64 * s, kernel=(3, 3), stride=(1, 1), padding=(1, 1), groups=64))
        self.layers.extend([
            DepthWise(64 * s, 64 * s, groups=128), Residual(64 * s, num_block=blocks[1], groups=128),
            DepthWise(64 * s, 128 * s, groups=256), Residual(128 * s, num_block=blocks[2], groups=256),
            DepthWise(128 * s, 128 * s, groups=512), Residual(128 * s, num_block=blocks[3], groups=256)])
        self.conv_sep = ConvBlock(128 * s, 512)
        self.features = GDC(num_features)
    def forward(self, x):
        for f in self.layers: x = f(x)
        return self.features(self.conv_sep(x))
def conv3x3(i, o, stride=1): return nn.Conv2d(i, o, 3, stride=stride, padding=1, bias=False)
class IBasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(inplanes); self.conv1 = conv3x3(inplanes, planes); self.bn2 = nn.BatchNorm2d(planes)
        self.prelu = nn.PReLU(planes); self.conv2 = conv3x3(planes, planes, stride); self.bn3 = nn.BatchNorm2d(planes)
        self.downsample = downsample
    def forward(self, x):
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        return out + (self.downsample(x) if self.downsample is not None else x)
class IResNet(nn.Module):
    def __init__(self, layers, num_features=512):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=False); self.bn1 = nn.BatchNorm2d(64); self.prelu = nn.PReLU(64)
        self.layer1 = self._make_layer(64, layers[0]); self.layer2 = self._make_layer(128, layers[1])
        self.layer3 = self._make_layer(256, layers[2]); self.layer4 = self._make_layer(512, layers[3])
        self.bn2 = nn.BatchNorm2d(512); self.dropout = nn.Dropout(p=0, inplace=True)
        self.fc = nn.Linear(512 * 49, num_features); self.features = nn.BatchNorm1d(num_features)
    def _make_layer(self, planes, blocks, stride=2):
        ds = None
        if stride != 1 or self.inplanes != planes:
            ds = nn.Sequential(nn.Conv2d(self.inplanes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes))
        layers = [IBasicBlock(self.inplanes, planes, stride, ds)]
        self.inplanes = planes
        layers += [IBasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)
    def forward(self, x):
        x = self.prelu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.bn2(x), 1)
        return self.features(self.fc(self.dropout(x)))

def arcface_loss(emb, weight, labels, s=64.0, m=0.5):
    import math
    cos = F.linear(F.normalize(emb), F.normalize(weight)).clamp(-1, 1)
    t = cos.gather(1, labels[:, None])
    sin = torch.sqrt((1 - t * t).clamp(1e-6, 1))
    phi = torch.where(t > math.cos(math.pi - m), t * math.cos(m) - sin * math.sin(m), t - m * math.sin(m))
    logits = cos.scatter(1, labels[:, None], phi) * s
    return F.cross_entropy(logits, labels)

def main():
    name, B, C, iters, warmup, threads = sys.argv[1], *map(int, sys.argv[2:7])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = MobileFaceNet() if name == 'mobilefacenet' else IResNet([2, 2, 2, 2])
    net.train()
    head = nn.Parameter(torch.randn(C, 512) * 0.01)
    opt = torch.optim.SGD(list(net.parameters()) + [head], lr=1e-3, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(B, 3, 112, 112)
    labels = torch.arange(B) * 37 % C
    def step():
        loss = arcface_loss(net(x), head, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()
    def fwd():
        with torch.no_grad(): net(x)
    def timed(fn):
        for _ in range(warmup): fn()
        t0 = time.perf_counter()
        for _ in range(iters): out = fn()
        return (time.perf_counter() - t0) * 1000 / iters, out
    import os
    if os.environ.get('MODE_SAVED') == '1':
        # Bytes autograd keeps for the backward pass: every tensor over 1 MB its saved-tensor hook sees,
        # counted once per storage (a tensor saved by two ops, or a view, is held once).
        kept = {}
        skip = {p.data_ptr() for p in net.parameters()} | {head.data_ptr(), x.data_ptr()}
        def pack(t):
            if t.data_ptr() not in skip and t.numel() * t.element_size() > 1e6:
                kept[t.storage().data_ptr()] = t.storage().nbytes()
            return t
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            arcface_loss(net(x), head, labels)
        print(json.dumps({'savedMB': sum(kept.values()) / 2**20, 'tensors': len(kept)}))
        return
    if os.environ.get('MODE_PROFILE') == '1':
        # torch.profiler over 'iters' steps after the warm-up: self CPU ms per step of each aten op.
        # The profiler slows PyTorch too, so compare shares and rates, not this wall time.
        from torch.profiler import profile, ProfilerActivity
        for _ in range(warmup): step()
        t0 = time.perf_counter()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(iters): step()
        wall = (time.perf_counter() - t0) * 1000 / iters
        ops = sorted(((e.key, e.self_cpu_time_total / 1000 / iters) for e in prof.key_averages()), key=lambda kv: -kv[1])
        print(json.dumps({'stepMs': wall, 'ops': [[k, ms] for k, ms in ops if ms > 0.5]}))
        return
    fms, _ = timed(fwd)
    ms, loss = timed(step)
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({'step': ms, 'forward': fms, 'loss': loss, 'peakMB': peak, 'torch': torch.__version__}))
main()
`;
