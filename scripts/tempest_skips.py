"""The skip file of `make tempest` (etc/tempest/skips.txt): every test that does not run,
with its reason, in one place.

Two kinds of line, each ending in `# reason`:

    exclude REGEX   # why     a test id pattern Tempest does not even start
    skip REGEX      # why     a reason text Tempest gives when it skips a test itself
                              (a feature flag of tempest.conf.in, a microversion, ...)

After a run, every skip Tempest reported must match a `skip` line: an unexplained skip
fails the run, so a skip cannot appear silently. Only the standard library is used.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Entry:
    kind: str  # "exclude" or "skip"
    pattern: re.Pattern[str]
    reason: str


def load(path: Path) -> list[Entry]:
    """The file's entries; a line without a kind, pattern or reason is an error."""
    entries = []
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        body, sep, reason = line.partition("  # ")
        kind, _, pattern = body.strip().partition(" ")
        if kind not in ("exclude", "skip") or not pattern.strip() or not sep or not reason:
            raise ValueError(f"{path}:{n}: want 'exclude|skip PATTERN  # reason': {raw!r}")
        entries.append(Entry(kind, re.compile(pattern.strip()), reason.strip()))
    return entries


def write_exclude_list(entries: list[Entry], dest: Path) -> Path:
    """The `exclude` patterns in stestr's exclude-list format."""
    lines = [f"{e.pattern.pattern}  # {e.reason}" for e in entries if e.kind == "exclude"]
    dest.write_text("\n".join(lines) + "\n")
    return dest


def explain(entries: list[Entry], skips: list[tuple[str, str]]) -> tuple[Counter, list]:
    """Match each (test id, Tempest's reason) to a `skip` entry: counts per entry's
    reason, and the skips no entry explains."""
    counts: Counter = Counter()
    unexplained = []
    rules = [e for e in entries if e.kind == "skip"]
    for test_id, text in skips:
        rule = next((e for e in rules if e.pattern.search(text)), None)
        if rule is None:
            unexplained.append((test_id, text))
        else:
            counts[rule.reason] += 1
    return counts, unexplained


# Runs in Tempest's venv (it has python-subunit): prints "test id<TAB>reason" per skip.
SUBUNIT_SKIPS = """
import sys, subunit, testtools
reasons, skipped = {}, []
class R(testtools.StreamResult):
    def status(self, test_id=None, test_status=None, file_name=None, file_bytes=None, **kw):
        if file_name == 'reason' and file_bytes:
            reasons[test_id] = bytes(file_bytes).decode(errors='replace').strip()
        if test_status == 'skip':
            skipped.append(test_id)
stream = subunit.ByteStreamToStreamResult(sys.stdin.buffer, non_subunit_name='stdout')
r = R(); r.startTestRun(); stream.run(r); r.stopTestRun()
for t in skipped:
    print(t + '\\t' + reasons.get(t, '').replace('\\n', ' '))
"""


def parse_skips(text: str) -> list[tuple[str, str]]:
    rows = []
    for line in text.splitlines():
        test_id, _, reason = line.partition("\t")
        rows.append((test_id, reason))
    return rows
