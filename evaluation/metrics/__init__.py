"""Every metric the harness can run, BPM included, behind one interface.

An `EditMetric` scores a batch of `EditItem`s and returns one `MetricOutput` per item:
a float `score` (None when undefined, with a flag saying why), named `components` and
`flags`. `settings()` lists everything that changes the scores; the batch runner puts it
into each result's key, so changing a setting never reuses a stale result.

Scales and directions (`higher_is_better`; the alignment protocol must flip the sign of
the lower-is-better ones before comparing with human scores):

- `l2` (lower is better): root mean square difference over all pixels and channels of
  the RGB images in 0..1, computed in float64 after resizing the edited image to the
  original's size (bicubic, flag `edited_resized`). Identical images give 0, black vs
  white gives 1. (The BPM authors' L2 takes the per-pixel RMS over channels and then the
  mean over pixels; this is the plain RMS over everything, a documented difference.)
- `lpips` (lower is better): LPIPS v0.1 with the AlexNet trunk (`evaluation.metrics.lpips`).
- `clip-i` (higher is better): cosine of the CLIP image embeddings of original and edited.
- `clip-t` (higher is better): cosine of the CLIP embeddings of the edited image and the
  target text. `EditItem` has no target caption, so the target text is the instruction
  (as in the paper's CLIPScore column). The raw cosine is reported, not Hessel et al.'s
  rescaled 2.5 * max(cos, 0).
- `clip-t+i` (higher is better): clip-t + clip-i, the paper's "CLIPScore + CLIP-I" row;
  both terms are kept as components.
- `dino` (higher is better): cosine of DINO ViT-S/16 CLS embeddings
  (`evaluation.metrics.dino`).
- `vlm` (higher is better): a VLM judge through an OpenAI-compatible endpoint
  (`evaluation.metrics.vlm_judge`), 0..1.
- `bpm` (higher is better): the BPM metric (`bpm_edit.metric.BPM`), per-sample ("fixed")
  normalisation so a record never depends on the other items of its batch.

`build_metrics(names, models=...)` builds them with model weights from the registry:
`models="default"` (real weights), `"random"` (real architectures, seeded random
weights, for benchmarks) or `"tiny"` (small seeded random models, for tests).
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from PIL import Image

from bpm_edit.images import align_pair, load_image, load_mask, rms_difference
from bpm_edit.models.registry import VARIANTS
from evaluation.items import EditItem

#: Variants of model weights every metric accepts (see the module docstring).
MODEL_VARIANTS = VARIANTS


class FatalMetricError(RuntimeError):
    """A failure that will hit every item (an unreachable endpoint): the run stops."""


@dataclass(frozen=True)
class MetricOutput:
    """One metric's verdict on one item.

    `score` is None when the metric cannot say (an unparseable judge answer, a NaN
    component); `flags` then says why. `components` are named sub-scores (None allowed).
    """

    score: float | None
    components: dict[str, float | None] = field(default_factory=dict)
    flags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "score", finite_or_none(self.score))
        object.__setattr__(
            self, "components", {k: finite_or_none(v) for k, v in self.components.items()}
        )
        object.__setattr__(self, "flags", tuple(self.flags))


def finite_or_none(value: float | None) -> float | None:
    """`value` as a float, or None for None / NaN / infinity (JSON has no NaN)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@runtime_checkable
class EditMetric(Protocol):
    """What the batch runner needs from a metric."""

    name: str
    higher_is_better: bool

    def settings(self) -> dict[str, Any]:
        """JSON-serialisable settings that change the scores (part of each result key)."""
        ...

    def score_batch(self, items: Sequence[EditItem]) -> list[MetricOutput]:
        """One output per item, in order. May raise; the runner then retries item by item."""
        ...


# ------------------------------------------------------------------------- image reading


class ImageCache:
    """A small LRU of decoded RGB images keyed by path, size and modification time.

    The runner runs several metrics over one batch; each reads the same files, and this
    keeps the decode to once per batch. A file changed on disk is read again.
    """

    def __init__(self, max_images: int = 32) -> None:
        self.max_images = max_images
        self._images: OrderedDict[tuple[str, int, int], Image.Image] = OrderedDict()
        self._lock = threading.Lock()  # the VLM judge reads images from worker threads

    def get(self, path: str, name: str) -> Image.Image:
        resolved = Path(path)
        try:
            stat = resolved.stat()
        except OSError:
            return load_image(resolved, name)  # raises the clear "file not found" error
        key = (str(resolved.resolve()), stat.st_size, stat.st_mtime_ns)
        with self._lock:
            image = self._images.get(key)
            if image is not None:
                self._images.move_to_end(key)
                return image
        image = load_image(resolved, name)
        with self._lock:
            self._images[key] = image
            while len(self._images) > self.max_images:
                self._images.popitem(last=False)
        return image


_IMAGES = ImageCache()


def load_pair(item: EditItem) -> tuple[Image.Image, Image.Image, tuple[str, ...]]:
    """Original and edited image of `item` as RGB, the edited one resized to the
    original's size when they differ (flag `edited_resized`)."""
    original = _IMAGES.get(item.original, f"item {item.item_id}: original")
    edited = _IMAGES.get(item.edited, f"item {item.item_id}: edited")
    aligned, resized = align_pair(original, edited)
    return original, aligned, ("edited_resized",) if resized else ()


def to_float(image: Image.Image) -> np.ndarray:
    """`(H, W, 3)` float64 array in 0..1."""
    return np.asarray(image, dtype=np.float64) / 255.0


# ------------------------------------------------------------------------------- L2


class L2Metric:
    """Whole-image RMS difference in 0..1 (lower is better); see the module docstring."""

    name = "l2"
    higher_is_better = False

    def settings(self) -> dict[str, Any]:
        return {"scale": "rms_over_pixels_and_channels_0_1", "align": "bicubic_to_original"}

    def score_batch(self, items: Sequence[EditItem]) -> list[MetricOutput]:
        outputs = []
        for item in items:
            original, edited, flags = load_pair(item)
            outputs.append(MetricOutput(rms_difference(original, edited), {}, flags))
        return outputs


# ----------------------------------------------------------------------------- CLIP


class ClipFeatures:
    """CLIP image/text features shared by clip-i, clip-t and clip-t+i.

    Wraps an `ImageTextEncoder` (normalised rows) and keeps an LRU of image features by
    file identity and size, so three CLIP metrics on one batch encode each image once.
    The edited image is encoded after alignment to the original's size, so both go
    through CLIP's resize and centre crop with the same framing.
    `description` names the model for the result keys.
    """

    def __init__(self, encoder: Any, description: Mapping[str, Any], max_images: int = 256):
        self.encoder = encoder
        self.description = dict(description)
        self.max_images = max_images
        self._features: OrderedDict[tuple, np.ndarray] = OrderedDict()

    def images(self, paths: Sequence[str], pil: Sequence[Image.Image]) -> np.ndarray:
        """Features of the images `pil` read from `paths` (the cache key with their size)."""
        keys = [(*_file_identity(path), image.size) for path, image in zip(paths, pil,
                                                                            strict=True)]
        todo = [i for i, key in enumerate(keys) if key not in self._features]
        unique: dict[tuple, int] = {}
        for i in todo:
            unique.setdefault(keys[i], i)
        if unique:
            encoded = self.encoder.encode_images([pil[i] for i in unique.values()])
            for key, row in zip(unique, encoded, strict=True):
                self._features[key] = np.asarray(row, dtype=np.float64)
        rows = []
        for key in keys:
            self._features.move_to_end(key)
            rows.append(self._features[key])
        while len(self._features) > self.max_images:
            self._features.popitem(last=False)
        return np.stack(rows)

    def texts(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray(self.encoder.encode_texts(list(texts)), dtype=np.float64)


def _file_identity(path: str) -> tuple[str, int, int]:
    resolved = Path(path)
    stat = resolved.stat()
    return (str(resolved.resolve()), stat.st_size, stat.st_mtime_ns)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine of two `(N, D)` arrays (re-normalised in float64)."""
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return np.sum(a * b, axis=1)


class _ClipMetric:
    higher_is_better = True
    name = ""

    def __init__(self, features: ClipFeatures) -> None:
        self.features = features

    def settings(self) -> dict[str, Any]:
        return {"clip": self.features.description, "text": "instruction"}

    def _pairs(self, items: Sequence[EditItem]):
        loaded = [load_pair(item) for item in items]
        flags = [pair[2] for pair in loaded]
        return loaded, flags

    def _clip_i(self, items: Sequence[EditItem], loaded) -> np.ndarray:
        originals = self.features.images([i.original for i in items], [p[0] for p in loaded])
        edited = self.features.images([i.edited for i in items], [p[1] for p in loaded])
        return _cosines(originals, edited)

    def _clip_t(self, items: Sequence[EditItem], loaded) -> np.ndarray:
        edited = self.features.images([i.edited for i in items], [p[1] for p in loaded])
        texts = self.features.texts([item.instruction for item in items])
        return _cosines(edited, texts)


class ClipImageMetric(_ClipMetric):
    """CLIP-I: cosine of original and edited image embeddings (higher is better)."""

    name = "clip-i"

    def settings(self) -> dict[str, Any]:
        return {"clip": self.features.description}

    def score_batch(self, items: Sequence[EditItem]) -> list[MetricOutput]:
        loaded, flags = self._pairs(items)
        scores = self._clip_i(items, loaded)
        return [MetricOutput(s, {}, f) for s, f in zip(scores, flags, strict=True)]


class ClipTextMetric(_ClipMetric):
    """CLIP-T (CLIPScore as raw cosine): edited image vs the instruction text."""

    name = "clip-t"

    def score_batch(self, items: Sequence[EditItem]) -> list[MetricOutput]:
        loaded, flags = self._pairs(items)
        scores = self._clip_t(items, loaded)
        return [MetricOutput(s, {}, f) for s, f in zip(scores, flags, strict=True)]


class ClipSumMetric(_ClipMetric):
    """CLIPScore + CLIP-I, the paper's combined baseline (sum of the two cosines)."""

    name = "clip-t+i"

    def score_batch(self, items: Sequence[EditItem]) -> list[MetricOutput]:
        loaded, flags = self._pairs(items)
        clip_i = self._clip_i(items, loaded)
        clip_t = self._clip_t(items, loaded)
        return [
            MetricOutput(t + i, {"clip_t": t, "clip_i": i}, f)
            for t, i, f in zip(clip_t, clip_i, flags, strict=True)
        ]


# ------------------------------------------------------------------------------ BPM

#: Model options that change how fast BPM runs, never its scores: left out of result keys,
#: so a run resumed with another value keeps its finished records.
SPEED_ONLY_OPTIONS = ("sam_batch_size",)
#: Components of a BPM record, in order (the `BPMResult` fields of the same names).
BPM_COMPONENTS = ("s_modify", "s_preserve", "s_size", "s_position", "s_semantic", "s_region")


class BPMMetric:
    """The BPM metric as an `EditMetric`.

    `bpm` is a `bpm_edit.metric.BPM` with per-sample ("fixed") normalisation. An item's
    `spec` (EditSpec dict) is used instead of parsing its instruction. With
    `use_dataset_masks`, items that carry masks are scored with `Regions.from_masks`
    (oracle localization) instead of the detector and segmenter.
    """

    name = "bpm"
    higher_is_better = True

    def __init__(self, bpm: Any, models: str, use_dataset_masks: bool = False) -> None:
        if bpm.normalization != "fixed":
            raise ValueError(
                "the batch runner needs per-sample scores: build BPM with "
                f"normalization='fixed', not {bpm.normalization!r} (normalise the stored "
                "components afterwards for the paper's dataset mode)"
            )
        self.bpm = bpm
        self.models = models
        self.use_dataset_masks = use_dataset_masks

    def settings(self) -> dict[str, Any]:
        bpm = self.bpm
        return {
            "models": self.models,
            "alpha": bpm.alpha,
            "alpha_global": bpm.alpha_global,
            "parser": _parser_name(bpm.parser),
            "parser_options": _public_options(bpm.parser_options),
            "model_options": _public_options(
                {k: v for k, v in bpm.model_options.items() if k not in SPEED_ONLY_OPTIONS}
            ),
            "dtype": str(bpm.dtype),
            "box_threshold": bpm.box_threshold,
            "text_threshold": bpm.text_threshold,
            "region_judge": bpm.region_judge.settings(),
            "use_dataset_masks": self.use_dataset_masks,
        }

    def score_batch(self, items: Sequence[EditItem]) -> list[MetricOutput]:
        requests = [self._request(item) for item in items]
        results = self.bpm.score_many(requests, batch_size=max(1, len(requests)))
        outputs = []
        for result in results:
            data = result.to_dict()
            outputs.append(
                MetricOutput(
                    data["bpm"], {name: data[name] for name in BPM_COMPONENTS}, data["flags"]
                )
            )
        return outputs

    def _request(self, item: EditItem) -> dict[str, Any]:
        request: dict[str, Any] = {"original": item.original, "edited": item.edited}
        spec = self.bpm.parse(item.spec if item.spec is not None else item.instruction)
        request["instruction"] = spec
        if self.use_dataset_masks and (item.mask_original or item.mask_edited):
            from bpm_edit.localization.regions import Regions

            original, _, _ = load_pair(item)
            size = original.size
            request["regions"] = Regions.from_masks(
                spec,
                load_mask(item.mask_original, size, f"item {item.item_id}: mask_original"),
                load_mask(item.mask_edited, size, f"item {item.item_id}: mask_edited"),
            )
        return request


def _parser_name(parser: Any) -> str:
    """The parser as a result key sees it: the rules parser with its grammar version (a
    new grammar can parse differently); other names as given; objects by parser_id."""
    if parser == "rules":
        from bpm_edit.parsing.rules.parser import RulesParser

        return RulesParser.parser_id
    if isinstance(parser, str):
        return parser
    return getattr(parser, "parser_id", type(parser).__name__)


def _public_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Options as strings for a result key; secrets (api keys, tokens) left out, weight
    paths reduced to file tags."""
    public: dict[str, Any] = {}
    for name, value in sorted(options.items()):
        if "key" in name.lower() or "token" in name.lower():
            continue
        if name == "weights" and isinstance(value, Mapping):
            public[name] = {k: file_tag(v) for k, v in sorted(value.items())}
        else:
            public[name] = str(value)
    return public


# -------------------------------------------------------------------------- factory

#: Metric names `build_metrics` accepts, with what each measures.
METRIC_CHOICES: dict[str, str] = {
    "bpm": "BPM (this toolkit's metric)",
    "l2": "whole-image RMS difference, 0..1, lower is better",
    "lpips": "LPIPS v0.1 AlexNet, lower is better",
    "clip-i": "CLIP image-image cosine",
    "clip-t": "CLIP image-instruction cosine (CLIPScore)",
    "clip-t+i": "CLIPScore + CLIP-I",
    "dino": "DINO ViT-S/16 CLS cosine",
    "vlm": "VLM judge through an OpenAI-compatible endpoint",
}

#: Other spellings accepted for the same metric.
METRIC_ALIASES = {
    "clipscore": "clip-t",
    "clip-score": "clip-t",
    "clipscore+clip-i": "clip-t+i",
    "clip-i+t": "clip-t+i",
    "dinoscore": "dino",
    "dino-score": "dino",
    "gpt-4o": "vlm",
    "vlm-judge": "vlm",
}


def parse_metric_names(names: str | Sequence[str]) -> list[str]:
    """Canonical metric names from a comma-separated string or a list, in order, without
    repeats. An unknown name is a `ValueError` listing the choices."""
    raw = names.split(",") if isinstance(names, str) else list(names)
    result: list[str] = []
    for name in raw:
        key = name.strip().lower()
        if not key:
            continue
        key = METRIC_ALIASES.get(key, key)
        if key not in METRIC_CHOICES:
            choices = ", ".join(METRIC_CHOICES)
            raise ValueError(f"unknown metric {name.strip()!r}; choose from: {choices}")
        if key not in result:
            result.append(key)
    if not result:
        raise ValueError(f"no metric given; choose from: {', '.join(METRIC_CHOICES)}")
    return result


def build_metrics(
    names: str | Sequence[str],
    models: str = "default",
    device: str = "cpu",
    dtype: Any = None,
    weights: Mapping[str, str | Path] | None = None,
    vlm_options: Mapping[str, Any] | None = None,
    bpm_options: Mapping[str, Any] | None = None,
    use_dataset_masks: bool = False,
    clip_model: str = "ViT-L-14",
) -> list[EditMetric]:
    """Build the metrics `names` (see `METRIC_CHOICES`) with `models` weights.

    `weights` maps a `WeightSpec.key` to a local path (e.g. `{"dino": "/w/dino-vits16"}`);
    `vlm_options` go to `VLMJudge` (base_url, model, api_key, ...); `bpm_options` to
    `bpm_edit.metric.BPM`. `clip_model` is the open_clip architecture (optionally
    "ARCH/TAG") of the CLIP baselines, ViT-L-14 / openai by default as in the paper.
    Models shared by several metrics (CLIP) are built once.
    """
    if models not in MODEL_VARIANTS:
        raise ValueError(f"unknown models variant {models!r}; choose from: {MODEL_VARIANTS}")
    canonical = parse_metric_names(names)
    weights = dict(weights or {})
    shared: dict[str, Any] = {}

    def clip() -> ClipFeatures:
        if "clip" not in shared:
            shared["clip"] = load_clip_features(models, device, dtype, clip_model,
                                                weights.get("clip"))
        return shared["clip"]

    builders: dict[str, Callable[[], EditMetric]] = {
        "l2": L2Metric,
        "clip-i": lambda: ClipImageMetric(clip()),
        "clip-t": lambda: ClipTextMetric(clip()),
        "clip-t+i": lambda: ClipSumMetric(clip()),
        "lpips": lambda: _lpips(models, device, weights),
        "dino": lambda: _dino(models, device, dtype, weights),
        "vlm": lambda: _vlm(vlm_options),
        "bpm": lambda: _bpm(models, device, dtype, weights, bpm_options, use_dataset_masks),
    }
    return [builders[name]() for name in canonical]


def load_clip_features(
    models: str,
    device: str = "cpu",
    dtype: Any = None,
    clip_model: str = "ViT-L-14",
    weights_path: str | Path | None = None,
) -> ClipFeatures:
    """The CLIP of the baselines, built by the metric's own loader
    (`bpm_edit.models.clip.load_clip_encoder`, seed `registry.SEEDS["clip"]`) with the same
    weight resolution (key "clip", flag --clip-weights), so `clip-t` and BPM's S_modify
    see one CLIP."""
    from bpm_edit.devices import resolve_device, resolve_dtype
    from bpm_edit.models.clip import clip_choice, load_clip_encoder
    from bpm_edit.models.registry import SEEDS
    from bpm_edit.models.weights import resolve_weights

    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype)
    choice = None if models == "tiny" else clip_choice(clip_model)
    path = None
    if models == "default":
        path = resolve_weights(choice.weights, weights_path)
        description = {"model": choice.architecture, "tag": choice.tag}
    elif choice is None:
        if weights_path is not None:
            path = Path(weights_path)
        description = {"model": "tiny", "weights": file_tag(weights_path)}
    else:
        description = {"model": choice.architecture}
    description.update(variant=models, dtype=str(torch_dtype).removeprefix("torch."))
    encoder = load_clip_encoder(choice, path, torch_device, torch_dtype, seed=SEEDS["clip"])
    return ClipFeatures(encoder, description)


def file_tag(path: str | Path | None) -> str | None:
    """Name, size and sha256 of the first MiB of a weights file (a directory: its name),
    enough to tell two weight files apart in a result key without hashing gigabytes."""
    if path is None:
        return None
    path = Path(path)
    if path.is_dir():
        return path.name
    with open(path, "rb") as handle:
        head = hashlib.sha256(handle.read(1 << 20)).hexdigest()[:16]
    return f"{path.name}:{path.stat().st_size}:{head}"


def _lpips(models: str, device: str, weights: Mapping[str, Any]) -> EditMetric:
    from evaluation.metrics.lpips import LPIPSMetric

    return LPIPSMetric.from_variant(models, device=device, weights=weights)


def _dino(models: str, device: str, dtype: Any, weights: Mapping[str, Any]) -> EditMetric:
    from evaluation.metrics.dino import DINOMetric

    return DINOMetric.from_variant(models, device=device, dtype=dtype, weights=weights)


def _vlm(options: Mapping[str, Any] | None) -> EditMetric:
    from evaluation.metrics.vlm_judge import VLMJudge

    options = dict(options or {})
    if not options.get("base_url") or not options.get("model"):
        raise ValueError(
            "the vlm metric needs an OpenAI-compatible endpoint: give its base URL and "
            "model name (scripts/evaluate.py --vlm-url URL --vlm-model NAME)"
        )
    return VLMJudge(**options)


def _bpm(
    models: str,
    device: str,
    dtype: Any,
    weights: Mapping[str, Any],
    options: Mapping[str, Any] | None,
    use_dataset_masks: bool,
) -> EditMetric:
    from bpm_edit.metric import BPM

    options = dict(options or {})
    model_options = dict(options.pop("model_options", {}) or {})
    from bpm_edit.models.registry import WEIGHT_KEYS

    metric_weights = {k: v for k, v in weights.items() if k in WEIGHT_KEYS}
    if metric_weights:
        model_options.setdefault("weights", metric_weights)
    bpm = BPM(models=models, device=device, dtype=dtype, model_options=model_options, **options)
    return BPMMetric(bpm, models, use_dataset_masks=use_dataset_masks)
