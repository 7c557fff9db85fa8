"""Resumable batch scoring: one JSONL record per (item, metric), safe against crashes.

Record fields (the format `evaluation.alignment` and `scripts/alignment.py` read):

    key         sha256 of the item's input file bytes (original, edited, masks), its
                instruction and spec, the metric name, the metric's settings (with tags
                of the resolved weight files) and the code version
                (`bpm_edit.version.code_version`): the same inputs, settings, weights
                and code always give the same key
    item_id, input_id, model    from the `EditItem`
    metric      the metric name
    settings    sha256 of the metric name, its settings and the code version (the key
                without the item): equal for every record made with the same settings
    score       float, or null when the metric cannot say (see flags)
    components  named sub-scores (bpm: s_modify, s_preserve, s_size, s_position,
                s_semantic, s_region)
    flags       list of strings
    error       null, or "ExceptionType: message" when scoring this item failed,
                followed by "[original: PATH, edited: PATH, ...]" unless the message
                names one of the item's files
    elapsed_s   seconds spent on this record (the batch's time shared evenly)

How a run stays safe (the result file is a `bpm_edit.store.JsonlStore` keyed by
(key, item_id), with its policies):
- records are appended and flushed + fsync'ed after every batch, so a crash (or a kill)
  loses at most the batch in flight; a torn last line left by a crash is ignored with a
  warning and cut away before the next append; a corrupt line elsewhere is a
  `StoreError` naming the file and line;
- a rerun skips every (item, key) already recorded without an error; records with an
  error are retried;
- a failing item is recorded with its error and the run goes on (a batch that raises is
  retried item by item to find the culprit); only a `FatalMetricError` stops the run;
- input files are only read; at the end the result file is rewritten atomically
  (temporary file + rename) in a stable order: the current items in dataset order, each
  with its metrics in the order given (records of the current settings), then every
  other record already in the file, in file order. Nothing is ever dropped except
  repeats of (key, item_id) (the last one is kept): records made with other settings
  stay, so a file may hold several settings' records of one (item, metric).

Choosing one setting (`select_settings`): a reader of a result file (scripts/alignment.py,
the report) needs one record per (item, metric). When an (item, metric) has records
under more than one `settings` key it is an error listing those keys, unless the reader
is given key prefixes (`--settings PREFIX`, repeatable) that pick one per metric;
scripts/evaluate.py's report picks the settings of the run that made it.

Data-parallel runs (`torchrun`, `accelerate launch --num_processes N`, any launcher
that sets RANK/WORLD_SIZE or LOCAL_RANK/LOCAL_WORLD_SIZE): `process_share` reads this
process's (index, count); process i of n scores items i, i+n, i+2n, ... into its own
shard file `<out>.shard-<i>-of-<n>.jsonl`, then writes the marker `<shard>.done` (the
run's token: `TORCHELASTIC_RUN_ID`, else MASTER_ADDR:MASTER_PORT and the launcher's
pid). The main process (index 0) waits for every marker of this run (no
torch.distributed needed; it gives up with an error after `merge_timeout` seconds
without progress of any shard), merges the result file and every shard file (also
shards of an interrupted earlier run) into the result file, and deletes the shards and
markers.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bpm_edit.config import settings_key as canonical_key
from bpm_edit.errors import ConfigError, DatasetError
from bpm_edit.outputs import check_output_file
from bpm_edit.store import JsonlStore, StoreError
from bpm_edit.version import code_version
from evaluation.items import EditItem
from evaluation.metrics import EditMetric, FatalMetricError, MetricOutput
from evaluation.parallel import (
    existing_shards,
    marker_path,
    process_share,
    run_token,
    shard_path,
    wait_for_shards,
)

#: Keys of a result record, in the order they are written.
RECORD_FIELDS = (
    "key", "item_id", "input_id", "model", "metric", "settings", "score", "components", "flags",
    "error", "elapsed_s",
)
#: The fields that identify a record: the same content under two item_ids is two records.
RECORD_IDENTITY = ("key", "item_id")


# ------------------------------------------------------------------------------ keys


class ContentHasher:
    """sha256 of files, cached per (path, size, mtime) for the duration of a run."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, int, int], str] = {}

    def file_digest(self, path: str) -> str:
        resolved = Path(path)
        try:
            stat = resolved.stat()
        except OSError:
            return f"missing:{path}"  # the metric reports the missing file as the error
        cache_key = (str(resolved.resolve()), stat.st_size, stat.st_mtime_ns)
        digest = self._cache.get(cache_key)
        if digest is None:
            sha = hashlib.sha256()
            with open(resolved, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    sha.update(block)
            digest = sha.hexdigest()
            self._cache[cache_key] = digest
        return digest

    def item_digest(self, item: EditItem) -> dict[str, Any]:
        """What the key covers from the item: file contents, instruction, spec."""
        files = {
            name: self.file_digest(getattr(item, name))
            for name in ("original", "edited", "mask_original", "mask_edited")
            if getattr(item, name)
        }
        return {"files": files, "instruction": item.instruction, "spec": item.spec}


def scoring_code() -> str:
    """The code version in every record key: the package version plus digests of the
    bpm_edit and evaluation sources, so records made by other code are never reused."""
    return code_version("bpm_edit", "evaluation")


def settings_key(metric: EditMetric, version: str) -> str:
    """The `settings` field of a record: the metric's name and settings and the code
    version, without the item (one value for a whole run of that metric, computed once)."""
    return canonical_key({"metric": metric.name, "settings": metric.settings(),
                          "version": version})


def record_key(item_digest: dict[str, Any], settings: str) -> str:
    """The content-hash key of one (item, metric) record: the item's digest and the
    metric's `settings_key`."""
    return canonical_key({"item": item_digest, "settings": settings})


# ------------------------------------------------------------------------ result files


def open_results(path: str | Path) -> JsonlStore:
    """The result file at `path` as a store; a record is identified by (key, item_id)
    and names its metric."""
    return JsonlStore(path, key=RECORD_IDENTITY, check=_names_a_metric)


def _names_a_metric(record: dict[str, Any]) -> None:
    if not isinstance(record.get("metric"), str):
        raise ValueError("expected a result record with a string 'metric'")


def check_results_path(path: str | Path, inputs: Iterable[str | Path] = (),
                       flag: str = "--out") -> None:
    """Before any work: `path` can be this runner's result file (`bpm_edit.outputs`): not
    an input among `inputs`, not a directory, absent or a results file (JSONL records
    with key, item_id and metric), in a writable place. Else an `InputError`."""
    check_output_file(path, flag=flag, inputs=list(inputs), accepts=_is_results_file,
                      kind="a bpm-edit results file (JSONL records with key, item_id and "
                           "metric)")


def _is_results_file(path: Path) -> bool:
    try:
        store = open_results(path)
    except StoreError:
        return False
    return store.torn_line is None or bool(store.records())


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """All records of a result file, in file order; a missing file is empty.

    A torn last line (a crash while writing) is ignored; a corrupt line anywhere else is
    a `bpm_edit.store.StoreError` naming the file and line.
    """
    return open_results(path).records()


def latest_records(path: str | Path) -> list[dict[str, Any]]:
    """Records of a result file with repeats of (key, item_id) reduced to the last one
    (a retried error is followed by its new record), in the file order of those."""
    return list(open_results(path).latest().values())


# ----------------------------------------------------------------------------- runner


@dataclass
class RunSummary:
    """What one process did: records computed (`scored`, of which `errors` failed),
    copied from an identical earlier one (`reused`) and already present (`skipped`), over
    `pending_items` items to work on."""

    out: Path
    items: int
    pending_items: int
    scored: int
    reused: int
    skipped: int
    errors: int
    seconds: float

    def line(self) -> str:
        return (
            f"{self.items} items: {self.scored} records scored ({self.errors} errors), "
            f"{self.reused} reused, {self.skipped} already done, {self.seconds:.1f} s "
            f"-> {self.out}"
        )


def _check_inputs(items: Sequence[EditItem], metrics: Sequence[EditMetric], batch_size: int):
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    if not metrics:
        raise ConfigError("no metrics to run")
    names = [m.name for m in metrics]
    if len(set(names)) != len(names):
        raise ConfigError(f"metric names must be unique, got {names}")
    seen: set[str] = set()
    for item in items:
        if item.item_id in seen:
            raise DatasetError(f"item_id {item.item_id!r} appears twice in the dataset")
        seen.add(item.item_id)


def score_items(
    items: Sequence[EditItem],
    metrics: Sequence[EditMetric],
    write_to: str | Path,
    done_in: Sequence[str | Path] = (),
    batch_size: int = 8,
    progress: bool = True,
    shard: tuple[int, int] = (0, 1),
    hasher: ContentHasher | None = None,
) -> RunSummary:
    """Score this process's shard of `items` with `metrics`, appending to `write_to`.

    `done_in` are result files whose error-free records count as done (the result file
    and any shard files). `shard=(index, count)` picks items index, index+count, ...
    An item whose key was already scored under another item_id (the same files,
    instruction and settings) gets a copy of that record instead of a new computation.
    """
    _check_inputs(items, metrics, batch_size)
    index, count = shard
    if not 0 <= index < count:
        raise ConfigError(f"shard index {index} is outside 0..{count - 1}")
    started = time.perf_counter()
    version = scoring_code()
    hasher = hasher or ContentHasher()
    done: set[tuple[str, str]] = set()
    known: dict[str, dict[str, Any]] = {}  # key -> an error-free record, for reuse
    target = open_results(write_to)
    others = [open_results(p) for p in dict.fromkeys(Path(p) for p in done_in)
              if p != target.path]
    for store in [*others, target]:
        for record in store.records():
            if record.get("error") is None:
                done.add((record["key"], record["item_id"]))
                known[record["key"]] = record

    settings = {metric.name: settings_key(metric, version) for metric in metrics}
    mine = list(items)[index::count]
    work: list[tuple[EditItem, list[tuple[EditMetric, str]]]] = []
    skipped = 0
    for item in mine:
        digest = hasher.item_digest(item)
        todo = []
        for metric in metrics:
            key = record_key(digest, settings[metric.name])
            if (key, item.item_id) in done:
                skipped += 1
            else:
                todo.append((metric, key))
        if todo:
            work.append((item, todo))

    scored = reused = errors = 0
    bar = _progress_bar(len(work), progress and index == 0, count)
    try:
        for start in range(0, len(work), batch_size):
            batch = work[start:start + batch_size]
            records, copied = _score_batch(batch, metrics, known, settings)
            target.append_many(records)
            scored += len(records) - copied
            reused += copied
            errors += sum(1 for r in records if r["error"] is not None)
            known.update((r["key"], r) for r in records if r["error"] is None)
            if bar is not None:
                bar.update(len(batch))
                bar.set_postfix(errors=errors, refresh=False)
    finally:
        if bar is not None:
            bar.close()
    return RunSummary(
        out=Path(write_to), items=len(mine), pending_items=len(work), scored=scored,
        reused=reused, skipped=skipped, errors=errors, seconds=time.perf_counter() - started,
    )


def _progress_bar(total: int, enabled: bool, count: int):
    if not enabled or total == 0:
        return None
    from tqdm.auto import tqdm

    label = "scoring" if count == 1 else f"scoring (process 0 of {count})"
    return tqdm(total=total, desc=label, unit="item", file=sys.stderr, dynamic_ncols=True)


def _score_batch(
    batch: list[tuple[EditItem, list[tuple[EditMetric, str]]]],
    metrics: Sequence[EditMetric],
    known: dict[str, dict[str, Any]],
    settings: Mapping[str, str],
) -> tuple[list[dict[str, Any]], int]:
    """Records for one batch, and how many were copies of `known` records: each metric
    scores the items that still need it."""
    records: dict[tuple[str, str], dict[str, Any]] = {}
    copied = 0
    for metric in metrics:
        wanted = []
        for item, todo in batch:
            for m, key in todo:
                if m is not metric:
                    continue
                if key in known:
                    records[(item.item_id, metric.name)] = {
                        **known[key], "item_id": item.item_id, "input_id": item.input_id,
                        "model": item.model, "elapsed_s": 0.0,
                    }
                    copied += 1
                else:
                    wanted.append((item, key))
        if not wanted:
            continue
        outputs = _run_metric(metric, [item for item, _ in wanted])
        for (item, key), (output, error, elapsed) in zip(wanted, outputs, strict=True):
            records[(item.item_id, metric.name)] = _record(
                item, metric, (key, settings[metric.name]), output,
                None if error is None else _naming_files(error, item), elapsed)
    # Write in dataset order, each item's metrics in the order given.
    ordered = []
    for item, todo in batch:
        for metric, _ in todo:
            ordered.append(records[(item.item_id, metric.name)])
    return ordered, copied


def _run_metric(
    metric: EditMetric, items: list[EditItem]
) -> list[tuple[MetricOutput | None, str | None, float]]:
    """(output, error, seconds) per item; a raising batch is retried item by item."""
    started = time.perf_counter()
    try:
        outputs = metric.score_batch(items)
        if len(outputs) != len(items):
            raise RuntimeError(
                f"metric {metric.name} returned {len(outputs)} outputs for {len(items)} items"
            )
        share = (time.perf_counter() - started) / len(items)
        return [(output, None, share) for output in outputs]
    except FatalMetricError:
        raise
    except Exception as batch_error:
        if len(items) == 1:
            return [(None, _describe(batch_error), time.perf_counter() - started)]
    results = []
    for item in items:
        started = time.perf_counter()
        try:
            (output,) = metric.score_batch([item])
            results.append((output, None, time.perf_counter() - started))
        except FatalMetricError:
            raise
        except Exception as error:
            results.append((None, _describe(error), time.perf_counter() - started))
    return results


def _describe(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _naming_files(error: str, item: EditItem) -> str:
    """`error`, followed by the item's files unless it names one of them already."""
    files = {name: getattr(item, name) for name in
             ("original", "edited", "mask_original", "mask_edited") if getattr(item, name)}
    if any(str(path) in error for path in files.values()):
        return error
    return error + " [" + ", ".join(f"{name}: {path}" for name, path in files.items()) + "]"


def _record(
    item: EditItem,
    metric: EditMetric,
    keys: tuple[str, str],
    output: MetricOutput | None,
    error: str | None,
    elapsed: float,
) -> dict[str, Any]:
    return {
        "key": keys[0],
        "item_id": item.item_id,
        "input_id": item.input_id,
        "model": item.model,
        "metric": metric.name,
        "settings": keys[1],
        "score": None if output is None else output.score,
        "components": {} if output is None else dict(output.components),
        "flags": [] if output is None else list(output.flags),
        "error": error,
        "elapsed_s": round(elapsed, 6),
    }


# ------------------------------------------------------------------------------ merge


def merge_results(
    out: str | Path,
    items: Sequence[EditItem],
    metrics: Sequence[EditMetric],
    sources: Sequence[str | Path] = (),
    hasher: ContentHasher | None = None,
) -> int:
    """Rewrite `out` from itself and `sources` (shard files) in the stable order
    described in the module docstring; returns the number of records written.

    Repeats of (key, item_id) keep the last one read (`out` first, then `sources` in
    order); every other record is kept, whatever its settings.
    """
    target = open_results(out)
    latest: dict[Any, dict[str, Any]] = {}
    for store in [target, *[open_results(p) for p in sources]]:
        for ident, record in store.latest().items():
            latest.pop(ident, None)
            latest[ident] = record

    version = scoring_code()
    settings = {metric.name: settings_key(metric, version) for metric in metrics}
    hasher = hasher or ContentHasher()
    ordered = []
    for item in items:
        digest = hasher.item_digest(item)
        for metric in metrics:
            record = latest.pop((record_key(digest, settings[metric.name]), item.item_id),
                                None)
            if record is not None:
                ordered.append(record)
    ordered.extend(latest.values())
    target.rewrite(ordered)
    return len(ordered)


def select_settings(
    records: Iterable[Mapping[str, Any]], choose: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """The records of one setting per (item, metric) (see the module docstring).

    `choose` are prefixes of `settings` keys: for each metric whose records match one,
    only the records of the matched key(s) are kept. Of several records of one (item,
    metric, settings) (made from other input bytes) the first in file order is kept:
    the runner writes the current run's first. An (item, metric) left with records
    of more than one settings key, or a prefix that matches nothing, is a `DatasetError`
    naming the metric, its keys and how many records each has.
    """
    records = [dict(r) for r in records]
    by_metric: dict[str, dict[str, int]] = {}
    for record in records:
        counts = by_metric.setdefault(str(record.get("metric")), {})
        setting = str(record.get("settings") or "none")
        counts[setting] = counts.get(setting, 0) + 1
    for prefix in choose:
        if not any(s.startswith(prefix) for counts in by_metric.values() for s in counts):
            raise DatasetError(f"--settings {prefix}: no record has a settings key starting "
                               f"with it ({_settings_text(by_metric)})")
    kept = []
    for record in records:
        counts = by_metric[str(record.get("metric"))]
        setting = str(record.get("settings") or "none")
        picked = [s for s in counts if any(s.startswith(p) for p in choose)]
        if not picked or setting in picked:
            kept.append(record)
    seen: dict[tuple[str, str], set[str]] = {}
    first: dict[tuple[str, str, str], dict[str, Any]] = {}
    for record in kept:
        ident = (str(record.get("item_id")), str(record.get("metric")))
        setting = str(record.get("settings") or "none")
        seen.setdefault(ident, set()).add(setting)
        first.setdefault((*ident, setting), record)
    for (item_id, metric), settings in seen.items():
        if len(settings) > 1:
            mixed = {metric: {s: by_metric[metric][s] for s in sorted(settings)}}
            raise DatasetError(
                f"metric {metric!r} has records of {len(settings)} settings for item "
                f"{item_id!r} ({_settings_text(mixed)}); pick one with --settings PREFIX "
                "(a prefix of the key)")
    return list(first.values())


def _settings_text(by_metric: Mapping[str, Mapping[str, int]]) -> str:
    return "; ".join(
        f"{metric}: " + ", ".join(f"{s[:12]} ({n} records)" for s, n in counts.items())
        for metric, counts in by_metric.items())


def evaluate(
    items: Sequence[EditItem],
    metrics: Sequence[EditMetric],
    out: str | Path,
    batch_size: int = 8,
    progress: bool = True,
    accelerator: Any = None,
    share: tuple[int, int] | None = None,
    merge_timeout: float = 600.0,
) -> RunSummary:
    """Score `items` with `metrics` into the result file `out`, resuming earlier runs.

    `share` = (index, count) of this process (default: `process_share(accelerator)`).
    With several processes each scores its shard into a shard file, then the main
    process merges (see the module docstring). Every process returns its own summary.
    """
    out = Path(out)
    _check_inputs(items, metrics, batch_size)
    index, count = share or process_share(accelerator)
    previous_shards = existing_shards(out)
    hasher = ContentHasher()
    if count == 1:
        summary = score_items(items, metrics, out, done_in=previous_shards,
                              batch_size=batch_size, progress=progress, hasher=hasher)
        _merge_and_clean(out, items, metrics, previous_shards, hasher)
        return summary

    mine = shard_path(out, index, count)
    summary = score_items(items, metrics, mine, done_in=[out, *previous_shards],
                          batch_size=batch_size, progress=progress, shard=(index, count),
                          hasher=hasher)
    token = run_token()
    marker_path(mine).write_text(token, encoding="utf-8")
    if index == 0:
        wait_for_shards(out, count, token, merge_timeout)
        _merge_and_clean(out, items, metrics, existing_shards(out), hasher)
    summary.out = out
    return summary


def _merge_and_clean(out: Path, items: Sequence[EditItem], metrics: Sequence[EditMetric],
                     shards: Sequence[Path], hasher: ContentHasher) -> None:
    merge_results(out, items, metrics, shards, hasher)
    for path in shards:
        path.unlink()
        marker_path(path).unlink(missing_ok=True)
