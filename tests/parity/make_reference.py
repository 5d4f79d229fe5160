#!/usr/bin/python3
"""Reference outputs of DifferNet computed with PyTorch (Debian's python3-torch, torchvision, scipy),
for the C++ parity test. Written from the method's specification, independently of the C++ code.

usage: make_reference.py REPO_ROOT OUT_DIR
Writes OUT_DIR/reference.safetensors (inputs and expected outputs), OUT_DIR/model.safetensors (a small
model in the project's model-file format: SqueezeNet + a narrow flow) and OUT_DIR/alexnet.safetensors
(a random AlexNet backbone written by scripts/weights/export_alexnet.py).
"""
import math
import os
import sys

import numpy as np
import scipy.ndimage
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image

ROOT, OUT = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(ROOT, "scripts", "weights"))
import export_alexnet  # noqa: E402
import safetensors_np  # noqa: E402

torch.set_num_threads(2)
torch.manual_seed(0)
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
S = 448
ANGLES = [0.0, 37.5, -112.25, 200.0]      # preprocessing and extractor
T = 5                                      # score and localization: 360*i/T
FLOW = dict(blocks=8, width=64, hidden_layers=3, clamp_alpha=3.0, seeds=list(range(8)))
ref = {}

# ---------- an input image: smooth pattern + noise, 300x200, 8-bit RGB
rng = np.random.RandomState(0)
yy, xx = np.mgrid[0:200, 0:300]
img = np.stack([128 + 100 * np.sin(xx / 9.0), 128 + 90 * np.cos(yy / 7.0), (xx + yy) % 256], -1)
img = np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)
ref["image"] = img.astype(np.float32)

# ---------- preprocessing
t = torch.from_numpy(img).permute(2, 0, 1)[None].float()


def resize_pass(x, h, w):  # antialiased bilinear, rounded to 8 bits after each pass as PIL does
    if x.shape[2:] == (h, w):
        return x
    return F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=True).round().clamp(0, 255)


resized = resize_pass(resize_pass(t, t.shape[2], S), S, S)
ref["resized"] = resized[0].numpy()
pil = Image.fromarray(img).resize((S, S), Image.BILINEAR)          # what torchvision's Resize does
ref["resized_pil"] = np.asarray(pil).transpose(2, 0, 1).astype(np.float32)


def rotation_coords(angle, size):
    """Source coordinates (pixel-edge units) of each output pixel, PIL Image.rotate's matrix."""
    a = -math.radians(angle)
    m0, m1, m3, m4 = round(math.cos(a), 15), round(math.sin(a), 15), round(-math.sin(a), 15), round(math.cos(a), 15)
    c = size / 2.0
    m2, m5 = m0 * -c + m1 * -c + c, m3 * -c + m4 * -c + c
    x = np.arange(size) + 0.5
    X, Y = np.meshgrid(x, x)
    return m0 * X + m1 * Y + m2, m3 * X + m4 * Y + m5


def rotate_nearest(chw, angle):
    u, v = rotation_coords(angle, chw.shape[-1])
    xs = np.where(u < 0, -1, u.astype(np.int64))
    ys = np.where(v < 0, -1, v.astype(np.int64))
    n = chw.shape[-1]
    ok = (xs >= 0) & (xs < n) & (ys >= 0) & (ys < n)
    out = np.zeros_like(chw)
    out[:, ok] = chw[:, ys[ok], xs[ok]]
    return out


def normalize(levels):
    x = torch.from_numpy(levels).float() / 255.0
    return torchvision.transforms.functional.normalize(x, MEAN, STD)


rotated = np.stack([rotate_nearest(ref["resized"], a) for a in ANGLES])
ref["rotated"] = rotated
# torchvision's RandomRotation on a PIL image is Image.rotate(angle, NEAREST, fillcolor=0); applied to
# our resized image it isolates the rotation's agreement with PIL (PIL uses 16.16 fixed point).
pil_resized = Image.fromarray(ref["resized"].transpose(1, 2, 0).astype(np.uint8))
ref["rotated_pil"] = np.stack([np.asarray(pil_resized.rotate(a, Image.NEAREST, fillcolor=0)).transpose(2, 0, 1)
                               for a in ANGLES]).astype(np.float32)
copies = torch.stack([normalize(r) for r in rotated])
ref["copies"] = copies.numpy()

# ---------- backbones
sq, _ = safetensors_np.load(os.path.join(ROOT, "model/weights/squeezenet1_1.safetensors"))
sqw = {k: torch.from_numpy(v.copy()) for k, v in sq.items()}


def conv(w, i, x, stride=1, padding=0):
    return F.conv2d(x, w[f"conv{i}.weight"], w[f"conv{i}.bias"], stride, padding)


def squeezenet_trunk(x):
    h = F.max_pool2d(F.relu(conv(sqw, 0, x, 2)), 3, 2, ceil_mode=True)
    for k in (1, 4, 7, 10, 13, 16, 19, 22):
        s = F.relu(conv(sqw, k, h))
        h = torch.cat([F.relu(conv(sqw, k + 1, s)), F.relu(conv(sqw, k + 2, s, 1, 1))], 1)
        if k in (4, 10):
            h = F.max_pool2d(h, 3, 2, ceil_mode=True)
    return h


def extract(trunk, x):
    # scales 448/224/112: nearest subsampling of the normalised tensor (F.interpolate's default)
    return torch.cat([trunk(F.interpolate(x, size=(S // f, S // f)) if f > 1 else x).mean((2, 3))
                      for f in (1, 2, 4)], 1)


alex = torchvision.models.alexnet(weights=None)  # random weights, seeded above
export_alexnet.write_backbone(os.path.join(OUT, "alexnet.safetensors"), alex.features.eval(), "random, parity test")
with torch.no_grad():
    ref["features_squeezenet"] = extract(squeezenet_trunk, copies).numpy()
    ref["features_alexnet"] = extract(alex.features.eval(), copies).numpy()


# ---------- flow (FrEIA glow coupling semantics)
class Subnet(torch.nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        dims = [cin] + [FLOW["width"]] * FLOW["hidden_layers"] + [cout]
        self.fc = torch.nn.ModuleList([torch.nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:])])

    def forward(self, x):
        for i, layer in enumerate(self.fc):
            x = layer(x)
            if i + 1 < len(self.fc):
                x = F.relu(x)
        return x


class Flow(torch.nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.l1, self.l2 = dim // 2, dim - dim // 2
        self.perms = [torch.from_numpy(np.random.RandomState(k).permutation(dim)) for k in FLOW["seeds"]]
        self.s1 = torch.nn.ModuleList([Subnet(self.l1, 2 * self.l2) for _ in self.perms])
        self.s2 = torch.nn.ModuleList([Subnet(self.l2, 2 * self.l1) for _ in self.perms])

    @staticmethod
    def clamp(a):
        return FLOW["clamp_alpha"] * 0.636 * torch.atan(a / FLOW["clamp_alpha"])

    def forward(self, x):
        logdet = torch.zeros(x.shape[0])
        for k, perm in enumerate(self.perms):
            x = x[:, perm]
            x1, x2 = x[:, :self.l1], x[:, self.l1:]
            r2 = self.s2[k](x2)
            a2, t2 = self.clamp(r2[:, :self.l1]), r2[:, self.l1:]
            y1 = torch.exp(a2) * x1 + t2
            r1 = self.s1[k](y1)
            a1, t1 = self.clamp(r1[:, :self.l2]), r1[:, self.l2:]
            y2 = torch.exp(a1) * x2 + t1
            logdet = logdet + a1.sum(1) + a2.sum(1)
            x = torch.clamp(torch.cat([y1, y2], 1), -1e6, 1e6)
        return x, logdet

    def tensors(self):
        out = {}
        for k in range(len(self.perms)):
            for s, nets in ((1, self.s1), (2, self.s2)):
                for j, layer in enumerate(nets[k].fc):
                    out[f"flow.block{k}.subnet{s}.fc{j}.weight"] = layer.weight.detach().numpy().copy()
                    out[f"flow.block{k}.subnet{s}.fc{j}.bias"] = layer.bias.detach().numpy().copy()
        return out


def nll(z, logdet):
    return torch.mean(0.5 * torch.sum(z ** 2, 1) - logdet) / z.shape[1]


D = 1536
flow = Flow(D)
# The model file, in the project's format, written from Python.
import json  # noqa: E402
config = {"backbone": "squeezenet1_1", "trunk_channels": 512, "input_size": S, "scales": [448, 224, 112],
          "normalization": {"mean": MEAN, "std": STD},
          "flow": {"blocks": FLOW["blocks"], "width": FLOW["width"], "hidden_layers": FLOW["hidden_layers"],
                   "clamp_alpha": FLOW["clamp_alpha"], "permutation_seeds": FLOW["seeds"]}}
calibration = {"calibrated": True, "threshold": 1.5, "transforms": T, "method": "parity test", "good_count": 2,
               "good_mean": 1.0, "good_std": 0.1, "good_max": 1.6}
tensors = {f"backbone.{k}": v for k, v in sq.items() if not k.startswith("conv25")}
tensors.update(flow.tensors())
safetensors_np.save(os.path.join(OUT, "model.safetensors"), tensors,
                    {"format": "differnet-model", "format_version": "1", "config": json.dumps(config),
                     "calibration": json.dumps(calibration)})

feats = torch.from_numpy(ref["features_squeezenet"])
with torch.no_grad():
    z, logdet = flow(feats)
ref["flow_z"], ref["flow_logdet"] = z.numpy(), logdet.numpy()
ref["loss"] = np.array([nll(z, logdet).item()], np.float32)

# ---------- score and localization at T fixed rotations
angles = [360.0 * i / T for i in range(T)]
tcopies = torch.stack([normalize(rotate_nearest(ref["resized"], a)) for a in angles]).requires_grad_(True)
z, logdet = flow(extract(squeezenet_trunk, tcopies))
ref["score"] = np.array([torch.mean(z.detach() ** 2).item()], np.float32)
grad, = torch.autograd.grad(nll(z, logdet), tcopies)
ref["input_grad"] = grad.numpy()


def rotate_bilinear(maps, angle):  # the C++ choice: bilinear, zero fill, PIL's centre convention
    u, v = rotation_coords(angle, S)
    grid = torch.from_numpy(np.stack([2 * u / S - 1, 2 * v / S - 1], -1)).float()[None]
    return F.grid_sample(maps[None], grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0]


def local_map(rotate_back):
    acc = []
    for i, a in enumerate(angles):
        g = rotate_back(grad[i], a).numpy()
        acc.append(np.abs(np.stack([scipy.ndimage.gaussian_filter(c, sigma=3) for c in g])))
    return np.mean(np.stack(acc), axis=(0, 1)) ** 2


ref["map"] = local_map(lambda g, a: rotate_bilinear(g, -a)).astype(np.float32)
# The authors' version: scipy.ndimage.rotate(-angle, cubic spline, zero fill) per channel.
ref["map_authors"] = local_map(lambda g, a: torch.from_numpy(np.stack(
    [scipy.ndimage.rotate(c, -a, reshape=False, order=3) for c in g.numpy()]))).astype(np.float32)

# ---------- 5 Adam steps on a fixed batch
batch = torch.from_numpy(np.abs(rng.normal(0, 1, (12, D))).astype(np.float32))
ref["adam_batch"] = batch.numpy()
opt = torch.optim.Adam(flow.parameters(), lr=2e-4, betas=(0.8, 0.8), eps=1e-4, weight_decay=1e-5)
losses = []
for _ in range(5):
    opt.zero_grad()
    loss = nll(*flow(batch))
    loss.backward()
    opt.step()
    losses.append(loss.item())
ref["adam_losses"] = np.array(losses, np.float32)
for k, v in flow.tensors().items():
    ref["adam5." + k] = v

safetensors_np.save(os.path.join(OUT, "reference.safetensors"), {k: np.asarray(v, np.float32) for k, v in ref.items()},
                    {"angles": json.dumps(ANGLES), "T": str(T)})
print("reference written to", OUT)
