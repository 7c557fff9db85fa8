"""Batch parsing with the resumable JSONL cache."""

from __future__ import annotations

import json
import logging

import pytest

from bpm_edit.parsing.cache import ParseCache, parse_many
from bpm_edit.spec import EditSpec


class CountingParser:
    """A deterministic parser that records what it was asked (the object, the target)."""

    def __init__(self, parser_id: str = "counting:v1") -> None:
        self.parser_id = parser_id
        self.calls: list[str] = []

    def parse(self, instruction: str) -> EditSpec:
        self.calls.append(instruction)
        word = instruction.split()[-1]
        return EditSpec("add", target_object=word, instruction=instruction, parser=self.parser_id)


class BatchParser(CountingParser):
    """Like `CountingParser`, with `parse_batch` and a `batch_size`; returns bare specs."""

    batch_size = 2

    def __init__(self) -> None:
        super().__init__("batch:v1")
        self.batches: list[list[str]] = []

    def parse_batch(self, instructions: list[str]) -> list[EditSpec]:
        self.batches.append(list(instructions))
        return [EditSpec("remove", source_object=text.split()[-1]) for text in instructions]


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_results_are_in_input_order_and_written_one_line_each(tmp_path):
    cache = tmp_path / "specs.jsonl"
    parser = CountingParser()
    specs = parse_many(["add a cat", " add a dog ", "add a cat"], parser, cache, progress=False)
    assert [s.target_object for s in specs] == ["cat", "dog", "cat"]
    assert parser.calls == ["add a cat", "add a dog"]  # stripped, duplicates parsed once
    assert lines(cache) == [s.to_dict() for s in specs[:2]]


def test_rerun_skips_cached_instructions_and_only_appends(tmp_path):
    cache = tmp_path / "specs.jsonl"
    parse_many(["add a cat", "add a dog"], CountingParser(), cache, progress=False)
    before = cache.read_bytes()
    parser = CountingParser()
    specs = parse_many(["add a dog", "add a cow", "add a cat"], parser, cache, progress=False)
    assert parser.calls == ["add a cow"]
    assert [s.target_object for s in specs] == ["dog", "cow", "cat"]
    after = cache.read_bytes()
    assert after.startswith(before) and len(lines(cache)) == 3


def test_other_parser_ids_do_not_share_results(tmp_path):
    cache = tmp_path / "specs.jsonl"
    parse_many(["add a cat"], CountingParser("a:1"), cache, progress=False)
    other = CountingParser("b:1")
    parse_many(["add a cat"], other, cache, progress=False)
    assert other.calls == ["add a cat"]
    assert ParseCache(cache).parser_ids() == {"a:1", "b:1"}


def test_truncated_last_line_is_skipped_reported_cut_and_parsed_again(tmp_path, caplog):
    cache = tmp_path / "specs.jsonl"
    parse_many(["add a cat", "add a dog"], CountingParser(), cache, progress=False)
    good = cache.read_bytes()
    cache.write_bytes(good + b'{"edit_type": "add", "source_object": null, "target_obj')

    parser = CountingParser()
    with caplog.at_level(logging.WARNING, logger="bpm_edit.store"):
        specs = parse_many(["add a cat", "add a cow"], parser, cache, progress=False)
    assert parser.calls == ["add a cow"]
    assert [s.target_object for s in specs] == ["cat", "cow"]
    assert f"{cache}, line 3: ignored an incomplete last line" in caplog.text
    # the torn line is cut away before the append: the file is valid JSONL again
    raw = cache.read_bytes()
    assert raw.startswith(good) and len(raw.splitlines()) == 3
    assert json.loads(raw.splitlines()[2])["instruction"] == "add a cow"

    again = ParseCache(cache)
    assert again.unreadable_lines == [] and len(again) == 3


def test_a_torn_line_in_the_middle_is_an_error_naming_file_and_line(tmp_path):
    cache = tmp_path / "specs.jsonl"
    parse_many(["add a cat", "add a dog"], CountingParser(), cache, progress=False)
    first, second = cache.read_bytes().splitlines(keepends=True)
    cache.write_bytes(first + b'{"edit_type": "add", "sour\n' + second)
    with pytest.raises(ValueError, match=r"specs.jsonl, line 2: not valid JSON"):
        ParseCache(cache)


def test_a_line_that_is_json_but_not_a_parse_names_file_and_line(tmp_path):
    cache = tmp_path / "specs.jsonl"
    cache.write_text('{"edit_type": "add", "target_object": "x", "instruction": "a", '
                     '"parser": "p"}\n{"edit_type": "teleport"}\n')
    with pytest.raises(ValueError, match=r"specs.jsonl, line 2: not a parse: .*edit_type"):
        ParseCache(cache)


def test_empty_instruction_is_reported_by_position_before_any_parse(tmp_path):
    cache = tmp_path / "specs.jsonl"
    parser = CountingParser()
    with pytest.raises(ValueError, match="instruction 2: instruction is empty"):
        parse_many(["add a cat", "   "], parser, cache, progress=False)
    assert parser.calls == [] and not cache.exists()


def test_batch_parsers_get_batches_and_results_record_their_key(tmp_path):
    cache = tmp_path / "specs.jsonl"
    parser = BatchParser()
    texts = ["remove the a", "remove the b", "remove the c"]
    specs = parse_many(texts, parser, cache, progress=False)
    assert parser.batches == [["remove the a", "remove the b"], ["remove the c"]]
    assert [(s.instruction, s.parser, s.source_object) for s in specs] == [
        ("remove the a", "batch:v1", "a"), ("remove the b", "batch:v1", "b"),
        ("remove the c", "batch:v1", "c"),
    ]
    assert parse_many(texts, BatchParser(), cache, progress=False) == specs


def test_without_a_cache_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    specs = parse_many(["add a cat"], CountingParser(), progress=False)
    assert specs[0].target_object == "cat" and list(tmp_path.iterdir()) == []


def test_progress_bar_goes_to_stderr(capsys):
    parse_many([f"add a cat{i}" for i in range(30)], CountingParser(), progress=True)
    captured = capsys.readouterr()
    assert captured.out == "" and "30/30" in captured.err
