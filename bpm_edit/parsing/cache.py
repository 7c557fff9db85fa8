"""Batch parsing with a resumable on-disk cache.

The cache is a JSONL file, one `EditSpec.to_dict()` per line, keyed by the spec's
`(instruction, parser)`: the same format `bpm-edit parse --out` writes, so an output
file is also a cache. It is a `bpm_edit.store.JsonlStore` with its policies: new parses
are appended, one fsync per batch; a torn last line left by a crash is ignored with a
warning (`ParseCache.unreadable_lines`) and cut away before the next append, so that
instruction is parsed again; any other line that is not a parse with its key is a
`StoreError` naming the file and line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from bpm_edit.errors import InputError
from bpm_edit.parsing.base import InstructionParser, check_instruction
from bpm_edit.spec import EditSpec, SpecError
from bpm_edit.store import JsonlStore

CacheKey = tuple[str, str]


def _check_parse(record: dict) -> None:
    try:
        EditSpec.from_dict(record)
    except SpecError as err:
        raise ValueError(f"not a parse: {err}") from None


def is_parse_file(path: str | os.PathLike[str]) -> bool:
    """Whether `path` is a parse cache (what `bpm-edit parse --out` writes): empty, or
    every complete line a parse with its instruction and parser. A torn last line after
    at least one parse is allowed (the store cuts it away); anything else (an image, a
    text file) is not a parse cache and must not be appended to."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return False
    *complete, _torn = data.split(b"\n")
    parses = 0
    for raw in complete:
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
            _check_parse(record)
        except ValueError:  # not JSON, not UTF-8, or not a parse
            return False
        if not all(isinstance(record.get(name), str) for name in ("instruction", "parser")):
            return False
        parses += 1
    return parses > 0 or not data.strip()


class ParseCache:
    """The parses stored in one JSONL file, and appending new ones to it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._store = JsonlStore(path, key=("instruction", "parser"), check=_check_parse)
        self.path = self._store.path
        self._specs: dict[CacheKey, EditSpec] = {
            key: EditSpec.from_dict(record) for key, record in self._store.latest().items()
        }

    @property
    def unreadable_lines(self) -> list[int]:
        """The torn last line ignored when the file was read (at most one), 1-based."""
        torn = self._store.torn_line
        return [] if torn is None else [torn]

    def __len__(self) -> int:
        return len(self._specs)

    def parser_ids(self) -> set[str]:
        """The parsers that have results in this cache."""
        return {parser for _, parser in self._specs}

    def get(self, instruction: str, parser_id: str) -> EditSpec | None:
        return self._specs.get((instruction, parser_id))

    def add(self, specs: Iterable[EditSpec]) -> None:
        """Append parses as one batch (one fsync); each must carry its instruction and
        parser, checked before anything is written."""
        specs = list(specs)
        for spec in specs:
            if not spec.instruction or not spec.parser:
                raise InputError("only specs with 'instruction' and 'parser' can be cached")
        self._store.append_many(spec.to_dict() for spec in specs)
        for spec in specs:
            self._specs[(spec.instruction, spec.parser)] = spec


def _stamped(spec: EditSpec, instruction: str, parser_id: str) -> EditSpec:
    """`spec` recording the instruction and parser it was made for (its cache key)."""
    if spec.instruction == instruction and spec.parser == parser_id:
        return spec
    return EditSpec.from_dict({**spec.to_dict(), "instruction": instruction, "parser": parser_id})


def parse_many(
    instructions: Sequence[str],
    parser: InstructionParser,
    cache_path: str | os.PathLike[str] | ParseCache | None = None,
    progress: bool = True,
) -> list[EditSpec]:
    """Parse many instructions, reusing and extending the cache at `cache_path`.

    `cache_path` is a JSONL file (created if absent) or an open `ParseCache`.
    Returns one spec per instruction, in order (an instruction repeated in the input is
    parsed once). Instructions are stripped; an empty one raises `ValueError` naming its
    position before anything is parsed. Parsers with a `parse_batch` method (the LLM
    parsers) get the pending instructions in batches of their `batch_size`; each result
    is written to the cache as soon as its batch is done. `progress` shows a tqdm bar.
    """
    texts = []
    for index, instruction in enumerate(instructions):
        try:
            texts.append(check_instruction(instruction))
        except ValueError as err:
            raise InputError(f"instruction {index + 1}: {err}") from None
    parser_id = parser.parser_id
    if cache_path is None or isinstance(cache_path, ParseCache):
        cache = cache_path
    else:
        cache = ParseCache(cache_path)
    done: dict[str, EditSpec] = {}
    if cache is not None:
        for text in texts:
            cached = cache.get(text, parser_id)
            if cached is not None:
                done[text] = cached
    pending = [text for text in dict.fromkeys(texts) if text not in done]
    batch_size = getattr(parser, "batch_size", 1) if hasattr(parser, "parse_batch") else 1

    from tqdm.auto import tqdm

    with tqdm(
        total=len(pending), disable=not progress or not pending, desc="parsing", unit="instr"
    ) as bar:
        for start in range(0, len(pending), batch_size):
            chunk = pending[start : start + batch_size]
            if hasattr(parser, "parse_batch"):
                specs = parser.parse_batch(chunk)
            else:
                specs = [parser.parse(text) for text in chunk]
            specs = [_stamped(s, t, parser_id) for s, t in zip(specs, chunk, strict=True)]
            if cache is not None:
                cache.add(specs)
            done.update(zip(chunk, specs, strict=True))
            bar.update(len(chunk))
    return [done[text] for text in texts]
