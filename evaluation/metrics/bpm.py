"""The BPM metric (`bpm_edit.metric.BPM`) as an `EditMetric`: its settings (what goes
into each result key) and the per-item request (parsed spec, optional dataset masks).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bpm_edit.images import load_mask
from evaluation.items import EditItem
from evaluation.metrics.base import MetricOutput, file_tag, load_pair

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
