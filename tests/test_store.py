"""The one resumable JSONL store: round trip, the torn-last-line policy, corrupt lines,
blank lines, one fsync per batch, one writer, atomic rewrite."""

from __future__ import annotations

import json
import logging
import os

import pytest

from bpm_edit.errors import DatasetError
from bpm_edit.store import JsonlStore, StoreError

A = {"key": "a", "value": 1}
B = {"key": "b", "value": "ünï"}
C = {"key": "c", "value": None}


def line(record: dict) -> bytes:
    return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")


@pytest.fixture
def fsyncs(monkeypatch):
    calls: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(fd), real(fd))[1])
    return calls


def test_round_trip_creates_folders_and_reads_back_in_order(tmp_path):
    path = tmp_path / "deep" / "er" / "results.jsonl"
    store = JsonlStore(path)
    assert len(store) == 0 and store.records() == [] and not path.exists()
    store.append_many([A, B])
    store.append_many([C])
    assert path.read_bytes() == line(A) + line(B) + line(C)
    again = JsonlStore(path)
    assert again.records() == [A, B, C]
    assert again.get("b") == B and "c" in again and "z" not in again and len(again) == 3
    assert again.torn_line is None


def test_several_records_per_key_the_last_one_wins(tmp_path):
    path = tmp_path / "r.jsonl"
    newer = {"key": "a", "value": 2}
    JsonlStore(path).append_many([A, B, newer])
    store = JsonlStore(path)
    assert store.records() == [A, B, newer]
    assert store.get("a") == newer and len(store) == 2
    assert list(store.latest().values()) == [B, newer]  # file order of the survivors


def test_several_key_fields_make_a_tuple_key(tmp_path):
    path = tmp_path / "specs.jsonl"
    store = JsonlStore(path, key=("instruction", "parser"))
    store.append_many([{"instruction": "add a cat", "parser": "rules:1", "x": 1}])
    assert JsonlStore(path, key=("instruction", "parser")).get(("add a cat", "rules:1")) == {
        "instruction": "add a cat", "parser": "rules:1", "x": 1}


@pytest.mark.parametrize(
    "torn",
    [
        b'{"key": "c", "val',        # half a JSON object
        line(C)[:-1],                # a whole object whose newline was never written
        b"\x00\x00\x00\x00",         # a file extended by the crash but never filled
        b"not json\n",               # a complete last line that is not JSON
    ],
)
def test_a_torn_last_line_is_ignored_warned_and_cut_before_the_next_append(
    tmp_path, caplog, torn
):
    path = tmp_path / "r.jsonl"
    path.write_bytes(line(A) + line(B) + torn)
    with caplog.at_level(logging.WARNING, logger="bpm_edit.store"):
        store = JsonlStore(path)
    assert store.records() == [A, B] and store.torn_line == 3
    assert f"{path}, line 3: ignored an incomplete last line" in caplog.text
    assert path.read_bytes() == line(A) + line(B) + torn  # reading never changes the file
    store.append_many([C])
    assert path.read_bytes() == line(A) + line(B) + line(C)
    assert JsonlStore(path).records() == [A, B, C]


def test_a_torn_line_after_blank_lines_is_still_the_last_line(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_bytes(line(A) + b'{"key": "b"\n\n  \n')
    store = JsonlStore(path)
    assert store.records() == [A] and store.torn_line == 2
    store.append_many([C])
    assert path.read_bytes() == line(A) + line(C)


@pytest.mark.parametrize(
    ("middle", "expected"),
    [
        (b"not json", r"r.jsonl, line 2: not valid JSON \(.*\); expected one JSON object"),
        (b"[1, 2]", r"r.jsonl, line 2: expected a JSON object, got list"),
        (b'{"value": 1}', r"r.jsonl, line 2: expected a record with non-empty string field "
                          r"'key' \(its key\)"),
        (b'{"key": 7}', r"r.jsonl, line 2: expected a record with non-empty string field 'key'"),
        (b'{"key": ""}', r"r.jsonl, line 2: expected a record with non-empty string field"),
        (b"\xff\xfe", r"r.jsonl, line 2: not UTF-8 text"),
    ],
)
def test_a_corrupt_line_that_is_not_the_last_names_file_and_line(tmp_path, middle, expected):
    path = tmp_path / "r.jsonl"
    content = line(A) + middle + b"\n" + line(B)
    path.write_bytes(content)
    with pytest.raises(StoreError, match=expected) as caught:
        JsonlStore(path)
    assert isinstance(caught.value, DatasetError) and str(path) in str(caught.value)
    assert path.read_bytes() == content


def test_a_complete_last_line_that_is_json_but_no_record_is_corrupt_not_torn(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_bytes(line(A) + b'{"value": 1}\n')
    with pytest.raises(StoreError, match=r"r.jsonl, line 2: expected a record"):
        JsonlStore(path)


def test_check_rejections_name_file_and_line(tmp_path):
    def check(record):
        if record.get("value") is None:
            raise ValueError("not a result: 'value' is missing")

    path = tmp_path / "r.jsonl"
    path.write_bytes(line(A) + line(C) + line(B))
    with pytest.raises(StoreError, match=r"r.jsonl, line 2: not a result: 'value' is missing"):
        JsonlStore(path, check=check)


def test_blank_lines_are_skipped_and_never_written(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_bytes(b"\n" + line(A) + b"   \n\n" + line(B) + b"\n\t")
    store = JsonlStore(path)
    assert store.records() == [A, B] and store.torn_line is None
    store.append_many([C])  # the unterminated blank tail goes, nothing is glued on
    assert path.read_bytes() == b"\n" + line(A) + b"   \n\n" + line(B) + b"\n" + line(C)


def test_one_fsync_per_batch_and_none_for_an_empty_batch(tmp_path, fsyncs):
    store = JsonlStore(tmp_path / "r.jsonl")
    store.append_many([A, B, C])
    assert len(fsyncs) == 1
    store.append_many([{"key": "d"}])
    assert len(fsyncs) == 2
    store.append_many([])
    assert len(fsyncs) == 2
    path = tmp_path / "torn.jsonl"
    path.write_bytes(line(A) + b'{"ke')
    JsonlStore(path).append_many([B, C])  # cutting the torn line shares the batch's fsync
    assert len(fsyncs) == 3


def test_a_record_without_its_key_is_refused_before_anything_is_written(tmp_path):
    path = tmp_path / "r.jsonl"
    store = JsonlStore(path)
    with pytest.raises(ValueError, match="needs non-empty string field 'key'"):
        store.append_many([A, {"value": 2}])
    with pytest.raises(TypeError, match="not JSON serializable"):
        store.append_many([{"key": "x", "value": object()}])
    assert not path.exists() and len(store) == 0


def test_default_encodes_what_json_cannot(tmp_path):
    path = tmp_path / "r.jsonl"
    JsonlStore(path, default=str).append_many([{"key": "p", "path": tmp_path}])
    assert JsonlStore(path).get("p") == {"key": "p", "path": str(tmp_path)}


def test_appending_after_another_writer_changed_the_file_is_refused(tmp_path):
    path = tmp_path / "r.jsonl"
    JsonlStore(path).append_many([A])
    mine, theirs = JsonlStore(path), JsonlStore(path)
    theirs.append_many([B])
    with pytest.raises(StoreError, match=r"r.jsonl changed since it was read .*another writer"):
        mine.append_many([C])
    assert JsonlStore(path).records() == [A, B]


def test_a_directory_is_refused_naming_it(tmp_path):
    with pytest.raises(StoreError, match=f"{tmp_path} is a directory, expected a JSONL file"):
        JsonlStore(tmp_path)


def test_rewrite_replaces_the_content_and_leaves_no_temporary_file(tmp_path, fsyncs):
    path = tmp_path / "r.jsonl"
    path.write_bytes(line(A) + line(B) + b'{"key": "torn')
    store = JsonlStore(path)
    store.rewrite([C, A])
    assert path.read_bytes() == line(C) + line(A)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.jsonl"]
    assert store.records() == [C, A] and store.torn_line is None and len(fsyncs) == 1
    store.append_many([B])  # the store knows the new file: appending goes on
    assert JsonlStore(path).records() == [C, A, B]


def test_a_rewrite_that_fails_midway_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_bytes(line(A) + line(B))
    store = JsonlStore(path)

    def failing():
        yield C
        raise RuntimeError("the writer died")

    with pytest.raises(RuntimeError, match="the writer died"):
        store.rewrite(failing())
    with pytest.raises(ValueError, match="needs non-empty string field 'key'"):
        store.rewrite([C, {"no": "key"}])
    assert path.read_bytes() == line(A) + line(B)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.jsonl"]
    assert store.records() == [A, B]
