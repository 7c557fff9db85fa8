"""Data-parallel runs of the batch runner: which share of the items this process scores,
where its shard goes, and the file-marker barrier the main process waits on before it
merges (no torch.distributed needed; see `evaluation.runner` for the whole protocol)."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bpm_edit.errors import ConfigError


def shard_path(out: str | Path, index: int, count: int) -> Path:
    out = Path(out)
    return out.with_name(f"{out.name}.shard-{index}-of-{count}.jsonl")


def existing_shards(out: str | Path) -> list[Path]:
    out = Path(out)
    return sorted(out.parent.glob(f"{out.name}.shard-*-of-*.jsonl"))


def process_share(accelerator: Any = None,
                  environ: Mapping[str, str] | None = None) -> tuple[int, int]:
    """(index, count) of this process among those the launcher started.

    An accelerate state of several processes wins; else RANK/WORLD_SIZE (torchrun,
    accelerate), else LOCAL_RANK/LOCAL_WORLD_SIZE; else (0, 1). A world size without
    its rank (or the reverse), values that are not integers, a rank outside the world,
    or an accelerate state that disagrees with them is a `ConfigError`.
    """
    environ = os.environ if environ is None else environ
    share = None
    for rank_name, size_name in (("RANK", "WORLD_SIZE"), ("LOCAL_RANK", "LOCAL_WORLD_SIZE")):
        rank, size = environ.get(rank_name), environ.get(size_name)
        if rank is None and size is None:
            continue
        if rank is None or size is None:
            given, absent = (rank_name, size_name) if size is None else (size_name, rank_name)
            raise ConfigError(f"{given} is set but {absent} is not: cannot tell this "
                              "process's share of the items; launch with torchrun or "
                              "accelerate launch, or unset it")
        try:
            index, count = int(rank), int(size)
        except ValueError:
            raise ConfigError(f"{rank_name}={rank!r} / {size_name}={size!r}: expected "
                              "integers") from None
        if count < 1 or not 0 <= index < count:
            raise ConfigError(f"{rank_name}={index} is outside 0..{count - 1} "
                              f"({size_name}={count})")
        share = (index, count)
        break
    if accelerator is not None and accelerator.num_processes > 1:
        state = (accelerator.process_index, accelerator.num_processes)
        if share is not None and share != state:
            raise ConfigError(f"accelerate says process {state[0]} of {state[1]}, the "
                              f"environment {share[0]} of {share[1]}")
        return state
    return share or (0, 1)


def run_token(environ: Mapping[str, str] | None = None) -> str:
    """What every process of one launch shares (see the module docstring)."""
    environ = os.environ if environ is None else environ
    run_id = environ.get("TORCHELASTIC_RUN_ID", "")
    if run_id and run_id != "none":
        return run_id
    return f"{environ.get('MASTER_ADDR', '')}:{environ.get('MASTER_PORT', '')}:{os.getppid()}"


def marker_path(shard: Path) -> Path:
    return shard.with_name(shard.name + ".done")


def wait_for_shards(out: Path, count: int, token: str, timeout: float,
                    poll: float = 0.2) -> None:
    """Wait until every process of this run wrote its marker; a `ConfigError` after
    `timeout` seconds in which no marker appeared and no shard grew."""
    shards = [shard_path(out, i, count) for i in range(count)]
    last, deadline = None, time.monotonic() + timeout
    while True:
        state = []
        for shard in shards:
            marker = marker_path(shard)
            try:
                done = marker.read_text(encoding="utf-8") == token
            except OSError:
                done = False
            state.append((done, shard.stat().st_size if shard.exists() else -1))
        if all(done for done, _ in state):
            return
        if state != last:
            last, deadline = state, time.monotonic() + timeout
        elif time.monotonic() > deadline:
            missing = [str(i) for i, (done, _) in enumerate(state) if not done]
            raise ConfigError(
                f"process(es) {', '.join(missing)} of {count} did not finish their shards "
                f"of {out} within {timeout:.0f} s of no progress; the shards are kept and "
                "merged by the next run")
        time.sleep(poll)
