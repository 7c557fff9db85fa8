"""LPIPS (Zhang et al., 2018), version 0.1 with the AlexNet trunk, as an `EditMetric`.

The distance between two images x, y in [-1, 1]: both go through a scaling layer
((x - shift) / scale with the constants of LPIPS v0.1) and the AlexNet feature trunk;
the activations after each of its five ReLUs are normalised to unit length along the
channel axis, their squared difference is weighted per channel by a learned 1x1 layer
("lin"), averaged over space and summed over the five layers. Lower is more similar;
identical images give 0.

Implemented here on torchvision's `alexnet` rather than through the `lpips` package's
module, whose trunk loader uses torchvision's deprecated `pretrained=` argument and
downloads the trunk itself. The weights are the same:

- the trunk: torchvision's ImageNet AlexNet (`alexnet-owt-7be5be79.pth`), resolved by the
  weight registry (key "lpips_alexnet", flag --lpips-alexnet-weights);
- the lin layers: `weights/v0.1/alex.pth` as shipped inside the `lpips` package (or a
  local copy: key "lpips_lin", flag --lpips-lin-weights).

`tests/test_eval_metrics.py` checks that this module and the `lpips` package give the
same distance for the same weights. The edited image is resized to the original's size
(bicubic) first; images are compared at that native size (at least 32 px per side, the
smallest input the AlexNet trunk accepts). Variants: "default" (both real weight files),
"random" and "tiny" (the same small AlexNet trunk, about 2.5 M parameters, with seeded
random weights, and the real lin layers when the `lpips` package is installed, else
seeded random non-negative ones).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bpm_edit.errors import ConfigError, InputError, WeightsError, WeightsNotFoundError
from bpm_edit.models.weights import WeightSpec, resolve_weights, weights_tag
from evaluation.items import EditItem
from evaluation.metrics.base import MODEL_VARIANTS, MetricOutput, load_pair, to_float

#: torchvision's ImageNet AlexNet, whose feature trunk LPIPS uses.
ALEXNET_WEIGHTS = WeightSpec(
    model="AlexNet ImageNet trunk for LPIPS (torchvision)",
    files=("alexnet-owt-7be5be79.pth",),
    key="lpips_alexnet",
    flag="--lpips-alexnet-weights",
    url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
)
#: LPIPS v0.1 linear layers for AlexNet (also shipped inside the `lpips` package).
LIN_WEIGHTS = WeightSpec(
    model="LPIPS v0.1 linear layers for AlexNet",
    files=("alex.pth",),
    key="lpips_lin",
    flag="--lpips-lin-weights",
    url="https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/alex.pth",
)
#: Seed of the random-weight variants.
SEED = 3
#: Channels of the five AlexNet stages LPIPS compares.
CHANNELS = (64, 192, 384, 256, 256)
#: The AlexNet `features` index after which each stage ends (its ReLU).
STAGE_ENDS = (1, 4, 7, 9, 11)
#: LPIPS v0.1 input scaling (applied to images in [-1, 1]).
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
MIN_SIDE = 32


def packaged_lin_weights() -> Path | None:
    """The lin-layer file inside the installed `lpips` package, or None without it."""
    try:
        from importlib.resources import files

        path = Path(str(files("lpips") / "weights" / "v0.1" / "alex.pth"))
    except (ImportError, ModuleNotFoundError, TypeError):
        return None
    return path if path.is_file() else None


def _read_weights(path: Path) -> Any:
    """The state dict in a `torch.save`d weights file; an unreadable file is a `WeightsError`."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as err:
        raise WeightsNotFoundError(f"LPIPS: weights file not found: {path}") from err
    except Exception as err:
        raise WeightsError(f"LPIPS: cannot read weights file {path}: {err}") from err


def build_lpips_network(trunk_state: Mapping[str, Any] | None, lin_path: Path | None):
    """The LPIPS network; None for a weight source means seeded random weights."""
    import torch
    from torch import nn
    from torchvision.models import alexnet

    class LPIPSNetwork(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            features = alexnet(weights=None).features
            self.trunk = nn.Sequential(*list(features.children())[: STAGE_ENDS[-1] + 1])
            self.lins = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in CHANNELS)
            self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1))
            self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1))

        def stages(self, x):
            x = (x - self.shift) / self.scale
            outputs = []
            for index, layer in enumerate(self.trunk):
                x = layer(x)
                if index in STAGE_ENDS:
                    outputs.append(x)
            return outputs

        def forward(self, x, y):
            """Distances `(N,)` between image batches `x`, `y` in [-1, 1], `(N, 3, H, W)`."""
            total = 0
            for lin, fx, fy in zip(self.lins, self.stages(x), self.stages(y), strict=True):
                fx = fx / (fx.norm(dim=1, keepdim=True) + 1e-10)
                fy = fy / (fy.norm(dim=1, keepdim=True) + 1e-10)
                total = total + lin((fx - fy) ** 2).mean(dim=(2, 3))
            return total[:, 0]

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        network = LPIPSNetwork()
    if trunk_state is not None:
        trunk = {k.removeprefix("features."): v for k, v in trunk_state.items()
                 if k.startswith("features.")}
        trunk = {k: v for k, v in trunk.items() if int(k.split(".")[0]) <= STAGE_ENDS[-1]}
        try:
            network.trunk.load_state_dict(trunk, strict=True)
        except RuntimeError as err:
            raise WeightsError(f"LPIPS: the AlexNet weights do not fit: {err}") from err
    if lin_path is None:
        with torch.no_grad():  # LPIPS weights are non-negative: keep distances >= 0
            for lin in network.lins:
                lin.weight.abs_()
    else:
        state = _read_weights(lin_path)
        # The published file names the layers lin<k>.model.1.weight (after a dropout).
        lins = {}
        for index in range(len(CHANNELS)):
            name = f"lin{index}.model.1.weight"
            if name not in state:
                raise WeightsError(f"LPIPS: {lin_path} has no {name}; is it LPIPS v0.1 alex.pth?")
            lins[f"{index}.weight"] = state[name]
        network.lins.load_state_dict(lins, strict=True)
    return network.eval().requires_grad_(False)


class LPIPSMetric:
    """LPIPS v0.1 AlexNet distance between original and edited image (lower is better)."""

    name = "lpips"
    higher_is_better = False

    def __init__(self, network: Any, description: Mapping[str, Any], device: str = "cpu",
                 batch_size: int = 16) -> None:
        import torch

        self.device = torch.device(device)
        self.network = network.to(self.device).eval()
        self.description = dict(description)
        self.batch_size = batch_size

    @classmethod
    def from_variant(
        cls, variant: str, device: str = "cpu", weights: Mapping[str, Any] | None = None
    ) -> LPIPSMetric:
        """Build with "default" (real weights via the registry), "random" or "tiny"."""
        from bpm_edit.devices import resolve_device

        if variant not in MODEL_VARIANTS:
            raise ConfigError(f"unknown models variant {variant!r}; choose from {MODEL_VARIANTS}")
        resolve_device(device)
        weights = dict(weights or {})
        lin_path = weights.get("lpips_lin")
        lin_path = Path(lin_path) if lin_path is not None else packaged_lin_weights()
        trunk_state, trunk_path = None, None
        if variant == "default":
            if lin_path is None:
                lin_path = resolve_weights(LIN_WEIGHTS)
            trunk_path = resolve_weights(ALEXNET_WEIGHTS, weights.get("lpips_alexnet"))
            trunk_state = _read_weights(trunk_path)
        network = build_lpips_network(trunk_state, lin_path)
        description = {
            "net": "alex", "version": "0.1", "variant": variant,
            "lin": weights_tag(lin_path) if lin_path is not None else f"random:{SEED}",
            "trunk": weights_tag(trunk_path) if trunk_path is not None else f"random:{SEED}",
        }
        return cls(network, description, device)

    def settings(self) -> dict[str, Any]:
        return {"lpips": self.description, "align": "bicubic_to_original", "resolution": "native"}

    def score_batch(self, items: Sequence[EditItem]) -> list[MetricOutput]:
        import torch

        pairs = [load_pair(item) for item in items]
        for item, (original, _, _) in zip(items, pairs, strict=True):
            if min(original.size) < MIN_SIDE:
                raise InputError(
                    f"item {item.item_id}: LPIPS needs images of at least {MIN_SIDE} px per "
                    f"side, got {original.width}x{original.height}"
                )
        scores: list[float] = [0.0] * len(items)
        by_size: dict[tuple[int, int], list[int]] = {}
        for index, (original, _, _) in enumerate(pairs):
            by_size.setdefault(original.size, []).append(index)
        with torch.inference_mode():
            for indices in by_size.values():
                for start in range(0, len(indices), self.batch_size):
                    chunk = indices[start:start + self.batch_size]
                    x = self._tensor([pairs[i][0] for i in chunk])
                    y = self._tensor([pairs[i][1] for i in chunk])
                    for i, value in zip(chunk, self.network(x, y).tolist(), strict=True):
                        scores[i] = value
        return [MetricOutput(s, {}, p[2]) for s, p in zip(scores, pairs, strict=True)]

    def _tensor(self, images):
        import torch

        array = np.stack([to_float(image) for image in images]).astype(np.float32)
        return torch.from_numpy(array * 2.0 - 1.0).permute(0, 3, 1, 2).to(self.device)
