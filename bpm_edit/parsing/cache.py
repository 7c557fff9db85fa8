"""Batch parsing with a resumable on-disk cache.

The cache is a JSONL file, one `EditSpec.to_dict()` per line, keyed by the spec's
`(instruction, parser)`: the same format `bpm-edit parse --out` writes, so an output
file is also a cache. New parses are appended and flushed line by line; the file is never
rewritten, so a crash loses at most the line being written. A line left unreadable by
such a crash is skipped and reported (a warning, and `ParseCache.unreadable_lines`), and
the next append starts on a fresh line.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from bpm_edit.parsing.base import InstructionParser, check_instruction
from bpm_edit.spec import EditSpec, SpecError

logger = logging.getLogger(__name__)

CacheKey = tuple[str, str]


class ParseCache:
    """The parses stored in one JSONL file, and appending new ones to it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._specs: dict[CacheKey, EditSpec] = {}
        self.unreadable_lines: list[int] = []
        self._needs_newline = False
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        if self.path.is_dir():
            raise ValueError(f"parse cache {self.path} is a directory, expected a JSONL file")
        try:
            raw = self.path.read_bytes()
        except OSError as err:
            raise ValueError(f"cannot read parse cache {self.path}: {err}") from err
        self._needs_newline = bool(raw) and not raw.endswith(b"\n")
        for number, line in enumerate(raw.split(b"\n"), start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                self.unreadable_lines.append(number)
                continue
            try:
                spec = EditSpec.from_dict(data)
            except SpecError as err:
                raise ValueError(f"{self.path}, line {number}: not a parse: {err}") from err
            if not spec.instruction or not spec.parser:
                raise ValueError(
                    f"{self.path}, line {number}: a cached parse needs 'instruction' and "
                    "'parser' (they are its key)"
                )
            self._specs[(spec.instruction, spec.parser)] = spec
        if self.unreadable_lines:
            logger.warning(
                "parse cache %s: skipped unreadable line(s) %s (an interrupted write?); "
                "those instructions will be parsed again",
                self.path, self.unreadable_lines,
            )

    def __len__(self) -> int:
        return len(self._specs)

    def parser_ids(self) -> set[str]:
        """The parsers that have results in this cache."""
        return {parser for _, parser in self._specs}

    def get(self, instruction: str, parser_id: str) -> EditSpec | None:
        return self._specs.get((instruction, parser_id))

    def add(self, specs: Iterable[EditSpec]) -> None:
        """Append parses (each must carry its instruction and parser), one flushed line each."""
        specs = list(specs)
        if not specs:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as file:
            if self._needs_newline:
                file.write("\n")
                self._needs_newline = False
            for spec in specs:
                if not spec.instruction or not spec.parser:
                    raise ValueError("only specs with 'instruction' and 'parser' can be cached")
                file.write(json.dumps(spec.to_dict(), ensure_ascii=False) + "\n")
                file.flush()
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
            raise ValueError(f"instruction {index + 1}: {err}") from None
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
