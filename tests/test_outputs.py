"""`bpm_edit.outputs`: the one output-path check, run before any work."""

from __future__ import annotations

import os

import pytest
from frozen_paths import immutable

from bpm_edit.errors import InputError
from bpm_edit.outputs import check_output_dir, check_output_file

WRITES = ("result.json", "report.png")


def test_a_new_file_in_a_writable_folder_passes(tmp_path):
    assert check_output_file(tmp_path / "new" / "out.jsonl", flag="--out") \
        == tmp_path / "new" / "out.jsonl"


def test_an_output_that_is_an_input_is_refused_however_spelled(tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("make the cat black\n")
    spelled = tmp_path / "sub" / ".." / "in.txt"
    (tmp_path / "sub").mkdir()
    with pytest.raises(InputError, match=r"--out .* is the --file input; it would be overwritten"):
        check_output_file(spelled, flag="--out", inputs={"--file": source, "--cache": None},
                          accepts=lambda path: True)
    link = tmp_path / "link.txt"
    link.symlink_to(source)
    with pytest.raises(InputError, match="is the --file input"):
        check_output_file(link, flag="--out", inputs={"--file": source})


def test_an_existing_file_must_be_the_commands_own(tmp_path):
    existing = tmp_path / "notes.txt"
    existing.write_text("hello\n")
    with pytest.raises(InputError, match="exists and is not a parse file; it is never overwritten"):
        check_output_file(existing, flag="--out", accepts=lambda path: False,
                          kind="a parse file")
    with pytest.raises(InputError, match="exists and is not"):
        check_output_file(existing, flag="--out")  # accepts=None: a new file only
    assert check_output_file(existing, flag="--out", accepts=lambda path: True) == existing


def test_wrong_kinds_are_refused(tmp_path):
    with pytest.raises(InputError, match="is a directory, expected a file"):
        check_output_file(tmp_path, flag="--out")
    afile = tmp_path / "a.txt"
    afile.write_text("x")
    with pytest.raises(InputError, match="is a file, expected a directory"):
        check_output_dir(afile, flag="--out", writes=WRITES)
    with pytest.raises(InputError, match="a.txt is a file, not a folder"):
        check_output_file(afile / "x.jsonl", flag="--out")
    with pytest.raises(InputError, match="a.txt is a file, not a folder"):
        check_output_dir(afile / "deeper" / "dir", flag="--out", writes=WRITES)


def test_an_output_folder_holds_only_the_commands_files(tmp_path):
    out = tmp_path / "out"
    assert check_output_dir(out, flag="--out", writes=WRITES) == out  # absent
    out.mkdir()
    assert check_output_dir(out, flag="--out", writes=WRITES) == out  # empty
    (out / "result.json").write_text("{}")
    assert check_output_dir(out, flag="--out", writes=WRITES) == out  # a previous run
    (out / "photo.png").write_bytes(b"x")
    with pytest.raises(InputError, match=r"holds files this command did not write \(photo.png\)"):
        check_output_dir(out, flag="--out", writes=WRITES)


def test_a_result_file_name_that_is_an_input_is_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.png").write_bytes(b"png")
    with pytest.raises(InputError, match=r"report.png is the --original input; it would be"):
        check_output_dir(out, flag="--out", writes=WRITES,
                         inputs={"--original": out / "report.png", "--spec": None})


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_places_are_refused(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "old.jsonl").write_text("")
    (folder / "old.jsonl").chmod(0o444)
    folder.chmod(0o555)
    try:
        with pytest.raises(InputError, match="cannot write in"):
            check_output_file(folder / "new.jsonl", flag="--out")
        with pytest.raises(InputError, match="cannot write in"):
            check_output_dir(folder, flag="--out", writes=("old.jsonl",))
        with pytest.raises(InputError, match="the file cannot be written"):
            check_output_file(folder / "old.jsonl", flag="--out", accepts=lambda path: True)
    finally:
        folder.chmod(0o755)


def test_immutable_places_are_refused(tmp_path):
    folder = tmp_path / "frozen"
    folder.mkdir()
    own = tmp_path / "own.jsonl"
    own.write_text("")
    (folder / "result.json").write_text("{}")
    with immutable(folder, own), \
            pytest.raises(InputError, match=r"cannot write in .*frozen \(read-only or immut"):
        check_output_file(folder / "new.jsonl", flag="--out")
    with immutable(folder), pytest.raises(InputError, match="cannot write in this folder"):
        check_output_dir(folder, flag="--out", writes=WRITES)
    with immutable(folder), pytest.raises(InputError, match="cannot write in"):
        check_output_dir(folder / "sub", flag="--out", writes=WRITES)
    with immutable(own), pytest.raises(InputError, match="own.jsonl: the file cannot be writ"):
        check_output_file(own, flag="--out", accepts=lambda path: True)


def test_an_immutable_previous_result_is_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.png").write_bytes(b"png")
    with immutable(out / "report.png"), \
            pytest.raises(InputError, match="report.png cannot be replaced"):
        check_output_dir(out, flag="--out", writes=WRITES)
