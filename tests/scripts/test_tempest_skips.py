"""The skip file of `make tempest`: its format, the exclude list it feeds to Tempest,
and that a skip of Tempest's own needs an explanation in the file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import tempest_skips  # noqa: E402


def test_project_skip_file_loads_and_every_entry_has_a_reason() -> None:
    entries = tempest_skips.load(ROOT / "etc" / "tempest" / "skips.txt")
    assert {e.kind for e in entries} == {"exclude", "skip"}
    assert all(e.reason for e in entries)


def test_a_line_without_reason_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "skips.txt"
    f.write_text("exclude tempest\\.api\\.foo\n")
    with pytest.raises(ValueError, match="reason"):
        tempest_skips.load(f)
    f.write_text("ignore tempest\\.api\\.foo  # why\n")
    with pytest.raises(ValueError, match="exclude\\|skip"):
        tempest_skips.load(f)


def test_exclude_list_holds_only_exclusions(tmp_path: Path) -> None:
    f = tmp_path / "skips.txt"
    f.write_text("exclude tempest\\.api\\.a\\.  # A\nskip Neutron is not available  # B\n")
    out = tempest_skips.write_exclude_list(tempest_skips.load(f), tmp_path / "ex.txt")
    assert out.read_text() == "tempest\\.api\\.a\\.  # A\n"


def test_skips_are_explained_or_reported(tmp_path: Path) -> None:
    f = tmp_path / "skips.txt"
    f.write_text("skip Neutron is not available|Neutron is required  # Networking\n")
    entries = tempest_skips.load(f)
    runs = tempest_skips.parse_skips(
        "t.one\tNeutron is not available\nt.two\tNeutron is required\nt.three\tRescue off\n"
    )
    counts, unexplained = tempest_skips.explain(entries, runs)
    assert counts == {"Networking": 2}
    assert unexplained == [("t.three", "Rescue off")]
