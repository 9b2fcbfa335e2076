"""Console output: the tail of console.log."""

from __future__ import annotations

from pathlib import Path

from stackbox.compute import console


def test_tail_lines(tmp_path: Path) -> None:
    (tmp_path / "console.log").write_bytes(b"one\ntwo\nthree\n")
    assert console.get_console_output(tmp_path, None) == "one\ntwo\nthree\n"
    assert console.get_console_output(tmp_path, 2) == "two\nthree\n"
    assert console.get_console_output(tmp_path, 0) == ""
    assert console.get_console_output(tmp_path, 10) == "one\ntwo\nthree\n"


def test_missing_log_is_empty(tmp_path: Path) -> None:
    assert console.get_console_output(tmp_path, 5) == ""


def test_invalid_utf8_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "console.log").write_bytes(b"ok \xff\xfe\n")
    assert console.get_console_output(tmp_path, None) == "ok \ufffd\ufffd\n"


def test_at_most_the_last_mebibyte(tmp_path: Path) -> None:
    line = b"x" * 99 + b"\n"
    (tmp_path / "console.log").write_bytes(b"FIRST\n" + line * 20000)  # ~2 MB
    out = console.get_console_output(tmp_path, None)
    assert "FIRST" not in out
    assert len(out) <= console.MAX_BYTES
    assert out.endswith("x\n") and out.startswith("x")
