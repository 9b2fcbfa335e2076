"""The docs that tell a developer where a change goes name places that exist: every
backticked file path, `module:name` / `path.py:name` reference, dotted `stackbox.x.y`
name and `stackbox SUBCOMMAND` resolves, so renaming code the docs point at fails here
instead of leaving the docs stale."""

from __future__ import annotations

import argparse
import importlib
import re
from pathlib import Path
from types import ModuleType

import pytest

from stackbox import cli

ROOT = Path(__file__).resolve().parent.parent
DOCS = ("docs/extending.md", "docs/compute.md")

_FENCE = re.compile(r"^```.*?^```", re.S | re.M)
_TICKS = re.compile(r"`([^`\n]+)`")
_PATH = re.compile(r"^[\w<>*./-]+\.(?:py|md|toml|mako)$")
_NAME = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*"
_PATH_REF = re.compile(rf"^(?P<path>[\w./-]+\.py):(?P<name>{_NAME})$")
_MODULE_REF = re.compile(rf"^(?P<module>stackbox(?:\.\w+)*):(?P<name>{_NAME})$")
_DOTTED = re.compile(rf"^stackbox\.{_NAME}$")
_COMMAND = re.compile(r"^stackbox ([a-z][a-z-]*)\b")


def references(text: str) -> list[str]:
    """Backticked spans outside code blocks, with a trailing `()` dropped."""
    spans = _TICKS.findall(_FENCE.sub("", text))
    return [s.strip().removesuffix("()") for s in spans]


def _files(pattern: str) -> list[Path]:
    """Files a doc path names: from the repository root, else from stackbox/ (as
    docs/compute.md writes them); `<placeholder>` and `*` match any name; a bare file
    name matches that name anywhere in the package."""
    glob = re.sub(r"<[^>]+>", "*", pattern)
    if "/" not in glob:
        return sorted((ROOT / "stackbox").rglob(glob))
    return sorted(ROOT.glob(glob)) or sorted((ROOT / "stackbox").glob(glob))


def _module_of(path: Path) -> ModuleType:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return importlib.import_module(".".join(parts))


def _attr(module: ModuleType, name: str) -> None:
    obj: object = module
    for part in name.split("."):
        assert hasattr(obj, part), f"{module.__name__} has no {name}"
        obj = getattr(obj, part)


def _dotted(name: str) -> None:
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        if i < len(parts):
            _attr(module, ".".join(parts[i:]))
        return
    raise AssertionError(f"{name}: no such module")


def _subcommands() -> set[str]:
    parser = cli._parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return set(sub.choices)


def check(ref: str) -> bool:
    """Assert that `ref` resolves; False if it is not a reference to code."""
    if m := _PATH_REF.match(ref):
        files = _files(m["path"])
        assert len(files) == 1, f"{m['path']} names {len(files)} files"
        _attr(_module_of(files[0]), m["name"])
    elif m := _MODULE_REF.match(ref):
        _attr(importlib.import_module(m["module"]), m["name"])
    elif _DOTTED.match(ref):
        _dotted(ref)
    elif _PATH.match(ref):
        assert _files(ref), f"no file matches {ref}"
    elif m := _COMMAND.match(ref):
        assert m[1] in _subcommands(), f"`stackbox {m[1]}` is no subcommand"
    else:
        return False
    return True


@pytest.mark.parametrize("doc", DOCS)
def test_every_place_a_doc_names_exists(doc: str) -> None:
    refs = references((ROOT / doc).read_text())
    failures, checked = [], 0
    for ref in refs:
        try:
            checked += check(ref)
        except AssertionError as exc:
            failures.append(f"`{ref}`: {exc}")
    assert not failures, "\n".join(failures)
    assert checked >= 10, f"only {checked} references found in {doc}: is the parser broken?"


def test_extending_names_the_registries_a_new_service_edits() -> None:
    refs = set(references((ROOT / "docs/extending.md").read_text()))
    for place in (
        "stackbox.api.app:api_services",
        "stackbox.service.roles:ROLES",
        "stackbox/db/models.py",
        "stackbox/config.py:OPTIONS",
    ):
        assert place in refs, f"docs/extending.md does not name {place}"


def test_a_stale_reference_is_caught() -> None:
    for stale in (
        "stackbox/allinone.py:no_such_function",
        "stackbox.service.roles:NO_SUCH_LIST",
        "stackbox.service.nosuchmodule",
        "stackbox/nosuch/<service>/models.py",
        "stackbox nosuchcommand",
    ):
        with pytest.raises(AssertionError):
            check(stale)
    assert not check("req.db") and not check("role:admin or project_id:%(project_id)s")
