"""One resumable JSONL store: an append-only file of records, safe against crashes.

Every resumable result file of the project is a `JsonlStore`: the evaluation runner's
result file and its data-parallel shards (`evaluation.runner`), the parse cache
(`bpm_edit.parsing.cache`) and the enhance batch's ``results.jsonl`` (`pipelines.batch`).
They all follow these policies:

- **Format.** UTF-8, one JSON object per line, every line ending in ``\\n``. Blank lines
  (only whitespace) are skipped wherever they are; the store never writes one.
- **Keys.** A record's key is the value of its key field (``key="key"``), or the tuple
  of the values of several key fields (``key=("instruction", "parser")``). Every key field
  must hold a non-empty string.
- **Several records per key.** The file is only appended to, so a retried or updated
  record is appended after the earlier one: `records` returns every record in file
  order; lookups (`get`, ``in``, `latest`) see the last record of each key.
- **Torn last line.** A crash while appending leaves the last line incomplete. The last
  non-blank line is *torn* when the file does not end with a newline after it (a line is
  complete only once its newline is written, even if its text parses) or when it is not
  valid JSON. A torn line is ignored, with a logging warning naming the file and line,
  and before the next append the file is truncated to just after the last complete line,
  so a new record never continues a torn one. Only reading never changes the file.
- **Corrupt lines.** Any other line that is not valid UTF-8 JSON, not a JSON object,
  rejected by the user's ``check``, or without its key is a `StoreError` naming the file,
  the 1-based line number and what was expected. Opening the store raises it, so nothing
  is written.
- **Durability.** `append_many` writes a batch of records with one write, then flush and
  one ``os.fsync``: a crash loses at most the batch in flight.
- **One writer.** Appending to a file that changed since this store last read or wrote
  it (another writer) is a `StoreError`: writers never interleave, and a torn line is
  never cut while someone else may be writing it.
- **Atomic rewrite.** `rewrite` writes the new content to a temporary file beside the
  file, fsyncs it and renames it over the file (``os.replace``): a reader sees the old
  file or the new one, never a mix; if writing fails, the old file is left as it was and
  the temporary file is removed.
- Only its own file (and, during `rewrite`, its temporary file) is ever written. A path
  that is a directory is a `StoreError`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from bpm_edit.errors import DatasetError

logger = logging.getLogger(__name__)

#: A record's key: one string, or a tuple of strings for several key fields.
Key = str | tuple[str, ...]
Record = dict[str, Any]


class StoreError(DatasetError):
    """A store file cannot be used: unreadable, a directory, a corrupt line (the message
    names the file and line), or changed by another writer."""


class JsonlStore:
    """The records of one JSONL file, and appending to it (see the module docstring).

    `key` names the key field(s). `check`, if given, is called with every record read
    from the file; a `ValueError` it raises (its message says what is wrong) makes that
    line a corrupt line. `default` is passed to `json.dumps` for values JSON cannot
    represent (as in `json.dump`).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        key: str | Sequence[str] = "key",
        check: Callable[[Record], object] | None = None,
        default: Callable[[Any], Any] | None = None,
    ) -> None:
        self.path = Path(path)
        self.key_fields: tuple[str, ...] = (key,) if isinstance(key, str) else tuple(key)
        if not self.key_fields:
            raise ValueError("a store needs at least one key field")
        self._check = check
        self._default = default
        #: 1-based number of the torn last line that was ignored, or None.
        self.torn_line: int | None = None
        self._records: list[Record] = []
        self._latest: dict[Key, Record] = {}
        self._size = 0  # the file's size as this store last read or wrote it
        self._keep = 0  # where the next append starts (before a torn line)
        if self.path.is_dir():
            raise StoreError(f"{self.path} is a directory, expected a JSONL file")
        if self.path.exists():
            self._load()

    # ---------------------------------------------------------------------- reading

    def _load(self) -> None:
        try:
            data = self.path.read_bytes()
        except OSError as err:
            raise StoreError(f"cannot read {self.path}: {err.strerror or err}") from err
        lines = data.split(b"\n")  # the last piece is what follows the last newline
        last = max((i for i, raw in enumerate(lines) if raw.strip()), default=-1)
        start = 0
        for index, raw in enumerate(lines):
            offset, start = start, start + len(raw) + 1
            if not raw.strip():
                continue
            number = index + 1
            complete = index < len(lines) - 1
            value = _decode(raw)
            if index == last and (not complete or isinstance(value, _Invalid)):
                self.torn_line = number
                self._keep = offset
                logger.warning(
                    "%s, line %d: ignored an incomplete last line (left by an interrupted "
                    "write); it is removed before the next append", self.path, number,
                )
                break
            self._add(self._checked(value, number))
        else:
            self._keep = len(data) - len(lines[-1])  # drops a blank unterminated tail
        self._size = len(data)

    def _checked(self, value: Any, number: int) -> Record:
        where = f"{self.path}, line {number}"
        if isinstance(value, _Invalid):
            raise StoreError(f"{where}: {value.reason}; expected one JSON object per line")
        if not isinstance(value, dict):
            raise StoreError(f"{where}: expected a JSON object, got {type(value).__name__}")
        if self._check is not None:
            try:
                self._check(value)
            except ValueError as err:
                raise StoreError(f"{where}: {err}") from err
        if self._key_or_none(value) is None:
            raise StoreError(f"{where}: expected a record with {self._key_text()} (its key)")
        return value

    def _key_or_none(self, record: Record) -> Key | None:
        values = tuple(record.get(name) for name in self.key_fields)
        if not all(isinstance(v, str) and v for v in values):
            return None
        return values[0] if len(values) == 1 else values

    def _key_text(self) -> str:
        names = ", ".join(repr(name) for name in self.key_fields)
        return f"non-empty string field{'s' if len(self.key_fields) > 1 else ''} {names}"

    def key_of(self, record: Record) -> Key:
        """The key of `record`; a `ValueError` if it has none."""
        key = self._key_or_none(record) if isinstance(record, dict) else None
        if key is None:
            raise ValueError(f"a record for {self.path} needs {self._key_text()}")
        return key

    def _add(self, record: Record) -> None:
        key = self.key_of(record)
        self._records.append(record)
        self._latest.pop(key, None)
        self._latest[key] = record

    def records(self) -> list[Record]:
        """Every record, in file order (several per key when records were re-appended)."""
        return list(self._records)

    def latest(self) -> dict[Key, Record]:
        """The last record of each key, in the file order of those records."""
        return dict(self._latest)

    def get(self, key: Key, default: Record | None = None) -> Record | None:
        """The last record with `key`, or `default`."""
        return self._latest.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._latest

    def __len__(self) -> int:
        """The number of distinct keys."""
        return len(self._latest)

    # ---------------------------------------------------------------------- writing

    def _encode(self, records: Iterable[Record]) -> tuple[list[Record], bytes]:
        records = list(records)
        for record in records:
            self.key_of(record)
        text = "".join(
            json.dumps(record, ensure_ascii=False, default=self._default) + "\n"
            for record in records
        )
        return records, text.encode("utf-8")

    def append_many(self, records: Iterable[Record]) -> None:
        """Append `records` as one batch: one write, flush and one ``os.fsync``.

        Creates the file and its parent folders; first cuts a torn last line away. Every
        record is checked for its key and encoded before anything is written.
        """
        records, payload = self._encode(records)
        if not records:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size != self._size:
                raise StoreError(
                    f"{self.path} changed since it was read ({self._size} bytes, now {size}): "
                    "another writer? Not appending; open it again"
                )
            if self._keep < size:
                handle.truncate(self._keep)
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        self._size = self._keep = self._keep + len(payload)
        self.torn_line = None
        for record in records:
            self._add(record)

    def rewrite(self, records: Iterable[Record]) -> None:
        """Replace the file's content by `records` atomically (temporary file, fsync,
        ``os.replace``). If anything fails, the file is left as it was."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        written: list[Record] = []
        size = 0
        try:
            with open(temporary, "wb") as handle:
                for record in records:
                    _, line = self._encode([record])
                    handle.write(line)
                    written.append(record)
                    size += len(line)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        finally:
            if temporary.exists():
                temporary.unlink()
        self._records, self._latest = [], {}
        for record in written:
            self._add(record)
        self._size = self._keep = size
        self.torn_line = None


class _Invalid:
    """A line that is not UTF-8 JSON, and why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _decode(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _Invalid("not UTF-8 text")
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        return _Invalid(f"not valid JSON ({err.msg})")


__all__ = ["JsonlStore", "Key", "Record", "StoreError"]
