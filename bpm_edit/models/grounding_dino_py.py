"""Grounding DINO through the original code (``groundingdino-py``), the paper's setup.

The model is the package's `GroundingDINO`, assembled offline on transformers 5 by
`bpm_edit.models.grounding_dino_py_model` (imported only when a model is built, as is
the package): BERT comes from a `BertConfig` (bert-base-uncased sizes for the real model;
its weights are in the checkpoint) and the tokenizer from a local directory (real model)
or the generated vocabulary (built-in variants).

Inference matches groundingdino's `load_image` + `predict()`: resize to shortest edge 800,
longest at most 1333, ImageNet normalisation, one (image, caption) per forward; the boxes
are post-processed by `bpm_edit.models.grounding_dino_common.grounded_detections`.

Precision: the 2023 code makes float32 tensors inside its forward, so the weights stay
float32 and a float16 / bfloat16 `dtype` runs the forward under `torch.autocast` for that
dtype (any other dtype is a `ConfigError`).
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from PIL import Image
from torch import nn

from bpm_edit.errors import ConfigError, WeightsError, WeightsNotFoundError
from bpm_edit.models.detection import Detections
from bpm_edit.models.grounding_dino_common import (
    BERT_BASE_VOCAB_SIZE,
    BOX_THRESHOLD,
    DETECTION_SIZE,
    SEED,
    SEPARATOR_TOKENS,
    TEXT_THRESHOLD,
    TINY_DETECTION_SIZE,
    bert_tokenizer,
    call_thresholds,
    check_detection_size,
    check_pairs,
    check_thresholds,
    grounded_detections,
    phrase_token_mask,
    wordpiece_vocab,
)
from bpm_edit.models.weights import WEIGHT_KEYS, WeightSpec

CHECKPOINT_NAME = "groundingdino_swint_ogc.pth"
#: Where the "default" variant's checkpoint comes from.
WEIGHTS = WeightSpec(
    model="Grounding DINO SwinT-OGC (groundingdino-py)",
    files=(CHECKPOINT_NAME,),
    key="detector",
    flag=WEIGHT_KEYS["detector"],
    repo_id="ShilongLiu/GroundingDINO",
    flat=True,
)
#: The text tokenizer the original checkpoint expects (not inside the .pth).
TOKENIZER_WEIGHTS = WeightSpec(
    model="BERT tokenizer for Grounding DINO (groundingdino-py)",
    files=("vocab.txt", "tokenizer_config.json"),
    key="detector_tokenizer",
    flag=WEIGHT_KEYS["detector_tokenizer"],
    repo_id="google-bert/bert-base-uncased",
    directory=True,
    download_patterns=("vocab.txt", "tokenizer_config.json", "tokenizer.json", "config.json"),
)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Keys the original checkpoint may hold that transformers 5 keeps as non-persistent buffers.
IGNORED_CHECKPOINT_KEYS = ("bert.embeddings.position_ids", "bert.embeddings.token_type_ids")
#: Precisions the forward runs in: float32 as is, the others under `torch.autocast`.
DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def load_checkpoint(model: nn.Module, path: Path) -> None:
    """Loads an original-layout checkpoint (``{"model": state_dict}``, keys optionally
    prefixed ``module.``). A missing key is an error (part of the model would stay random);
    keys the model does not have are ignored, as the original `load_model` does, with a
    warning naming them (except BERT's position/token-type id buffers, which transformers 5
    no longer saves)."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise WeightsError(
            f"{path}: not a plain tensor checkpoint (torch.load weights_only=True refused it: "
            f"{error})"
        ) from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("model"), dict):
        raise WeightsError(
            f"{path}: expected a dict with a 'model' state dict, as {CHECKPOINT_NAME}")
    state = {k.removeprefix("module."): v for k, v in checkpoint["model"].items()}
    state = {k: v for k, v in state.items() if k not in IGNORED_CHECKPOINT_KEYS}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing:
        raise WeightsError(
            f"{path}: checkpoint does not match the Grounding DINO model, {len(missing)} missing "
            f"keys: {missing[:5]}{'...' if len(missing) > 5 else ''}"
        )
    if unexpected:
        warnings.warn(
            f"{path}: ignored {len(unexpected)} checkpoint keys the model does not have: "
            f"{unexpected[:5]}{'...' if len(unexpected) > 5 else ''}",
            stacklevel=2,
        )


class GroundingDinoPyDetector:
    """groundingdino-py's `GroundingDINO` behind the `Detector` interface.

    One (image, caption) pair per forward, as the original `predict()` (no padding between
    images, so results do not depend on what else is in a batch). `detection_size` is the
    working size ``{"shortest_edge", "longest_edge"}``, fixed at construction (see
    `with_detection_size`). `dtype` (None: float32) is the compute precision: the weights
    stay float32, float16 / bfloat16 run the forward under `torch.autocast`.
    """

    def __init__(
        self,
        model: nn.Module,
        box_threshold: float = BOX_THRESHOLD,
        text_threshold: float = TEXT_THRESHOLD,
        device: str | torch.device = "cpu",
        dtype: torch.dtype | None = None,
        detection_size: Mapping[str, int] = DETECTION_SIZE,
    ) -> None:
        check_thresholds(box_threshold, text_threshold)
        self._detection_size = check_detection_size(detection_size)
        self.dtype = torch.float32 if dtype is None else dtype
        if self.dtype not in DTYPES:
            raise ConfigError(
                f"Grounding DINO (groundingdino-py backend) runs in float32, float16 or "
                f"bfloat16, not {self.dtype}; use one of those or the transformers backend"
            )
        self.device = torch.device(device)
        self.model = model.to(device=self.device, dtype=torch.float32).eval()
        self.box_threshold = box_threshold
        self.text_threshold = text_threshold
        tokenizer = model.tokenizer
        ids = tokenizer.convert_tokens_to_ids(list(SEPARATOR_TOKENS))
        self._separator_ids = [i for i in ids if i != tokenizer.unk_token_id]

    @property
    def detection_size(self) -> dict[str, int]:
        """The working resolution, ``{"shortest_edge", "longest_edge"}`` (a copy)."""
        return dict(self._detection_size)

    def with_detection_size(self, detection_size: Mapping[str, int]) -> GroundingDinoPyDetector:
        """A detector over the same model at another working size."""
        return GroundingDinoPyDetector(
            self.model, self.box_threshold, self.text_threshold, device=self.device,
            dtype=self.dtype, detection_size=detection_size,
        )  # fmt: skip

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """groundingdino's `load_image` transform: resize (shortest edge, longest capped),
        to tensor, ImageNet normalisation. Returns ``(3, H, W)``."""
        import torchvision.transforms.functional as tf
        from groundingdino.datasets.transforms import resize

        size = self._detection_size
        resized, _ = resize(image.convert("RGB"), None, size["shortest_edge"], size["longest_edge"])
        return tf.normalize(tf.to_tensor(resized), IMAGENET_MEAN, IMAGENET_STD)

    def detect(
        self,
        images: Sequence[Image.Image],
        phrases: Sequence[str],
        *,
        box_threshold: float | None = None,
        text_threshold: float | None = None,
    ) -> list[Detections]:
        captions = check_pairs(images, phrases)
        thresholds = call_thresholds(
            (self.box_threshold, self.text_threshold), box_threshold, text_threshold
        )
        return [
            self._detect_one(image, caption, thresholds)
            for image, caption in zip(images, captions, strict=True)
        ]

    @torch.inference_mode()
    def _detect_one(
        self, image: Image.Image, caption: str, thresholds: tuple[float, float]
    ) -> Detections:
        pixels = self.preprocess(image).to(self.device)
        low_precision = self.dtype != torch.float32
        with (
            warnings.catch_warnings(),
            torch.autocast(self.device.type, dtype=self.dtype, enabled=low_precision),
        ):
            _quiet_groundingdino_warnings()
            outputs = self.model(pixels[None], captions=[caption])
        probs = outputs["pred_logits"].float().sigmoid()[0].cpu()
        boxes = outputs["pred_boxes"].float()[0].cpu()
        input_ids = self.model.tokenizer(caption, return_tensors="pt")["input_ids"][0]
        phrase_mask = phrase_token_mask(input_ids, self._separator_ids, probs.shape[-1])
        return grounded_detections(probs, boxes, phrase_mask, image.size, *thresholds)


def build_groundingdino_py_detector(
    variant: str,
    weights: Path | str | None,
    device: str,
    dtype: torch.dtype | None,
    box_threshold: float,
    text_threshold: float,
    tokenizer: str | Path = "bert-base-uncased",
    architecture: str = "swint-ogc",
    detection_size: Mapping[str, int] | None = None,
) -> GroundingDinoPyDetector:
    """The groundingdino-py detector of a variant.

    "default": `weights` is the ``groundingdino_swint_ogc.pth`` file, loaded into the
    `architecture` ("swint-ogc", the real model; "tiny" for checkpoints of the tiny
    variant), and `tokenizer` the bert-base-uncased tokenizer (a local directory or a hub
    id already in the local cache). "tiny" / "random": seeded random weights.
    `detection_size` None: `TINY_DETECTION_SIZE` for the tiny architecture, else
    `DETECTION_SIZE`.
    """
    if architecture not in ("swint-ogc", "tiny"):
        raise ConfigError(f"unknown architecture {architecture!r}; expected 'swint-ogc' or 'tiny'")
    if variant == "default":
        if weights is None:
            raise ConfigError(
                f"Grounding DINO (groundingdino-py backend), variant 'default', needs weights: "
                f"the path of {CHECKPOINT_NAME}"
            )
        path = Path(weights)
        if not path.is_file():
            raise WeightsNotFoundError(f"Grounding DINO checkpoint {path} does not exist")
        text_tokenizer = _load_bert_tokenizer(tokenizer)
        shape = architecture
    else:
        size = None if variant == "tiny" else BERT_BASE_VOCAB_SIZE
        text_tokenizer = bert_tokenizer(wordpiece_vocab(size))
        shape = "tiny" if variant == "tiny" else "swint-ogc"
    with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
        _quiet_groundingdino_warnings()
        torch.manual_seed(SEED)
        from bpm_edit.models.grounding_dino_py_model import (
            build_groundingdino_model,
            groundingdino_args,
        )

        model = build_groundingdino_model(groundingdino_args(shape), text_tokenizer)
    if variant == "default":
        load_checkpoint(model, path)
    if detection_size is None:
        detection_size = TINY_DETECTION_SIZE if shape == "tiny" else DETECTION_SIZE
    return GroundingDinoPyDetector(
        model, box_threshold, text_threshold, device=device, dtype=dtype,
        detection_size=detection_size,
    )  # fmt: skip


def _quiet_groundingdino_warnings() -> None:
    """Silences the 2023 package's deprecation notices (timm.models.layers, meshgrid
    indexing, torch.cuda.amp.autocast); call inside `warnings.catch_warnings()`."""
    warnings.filterwarnings("ignore", message=r"Importing from timm\.models\.layers")
    warnings.filterwarnings("ignore", message=r"torch\.meshgrid: in an upcoming release")
    warnings.filterwarnings("ignore", message=r"`torch\.cuda\.amp\.autocast")


def _load_bert_tokenizer(tokenizer: str | Path):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(tokenizer), local_files_only=True)
    except OSError as error:
        raise WeightsNotFoundError(
            f"Grounding DINO (groundingdino-py) needs the bert-base-uncased tokenizer: "
            f"{tokenizer!s} is neither a local tokenizer directory nor in the hub cache "
            f"(pass a directory with vocab.txt or tokenizer.json; the hub repo "
            f"IDEA-Research/grounding-dino-tiny has the same tokenizer). Cause: {error}"
        ) from None
