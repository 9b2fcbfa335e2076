"""The `stackbox` command's own behaviour: clear refusals instead of tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent / "stackbox"


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN), *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=60
    )


def test_up_refuses_broken_rule_files(tmp_path: Path) -> None:
    base = {"STACKBOX_UP__TEST_GUEST": "false", "HOME": str(tmp_path)}
    policy = tmp_path / "policy.yaml"
    policy.write_text('"identity:list_users": "role:admin or"\n')
    r = _run(
        "up",
        "--state-dir",
        str(tmp_path / "s1"),
        "--port",
        "0",
        env={**base, "STACKBOX_API__POLICY_FILE": str(policy)},
    )
    assert r.returncode == 2 and "cannot start" in r.stderr and "Traceback" not in r.stderr
    prot = tmp_path / "protections.conf"
    prot.write_text("[x\n")
    r = _run(
        "up",
        "--state-dir",
        str(tmp_path / "s2"),
        "--port",
        "0",
        env={**base, "STACKBOX_IMAGE__PROPERTY_PROTECTION_FILE": str(prot)},
    )
    assert r.returncode == 2 and "cannot start" in r.stderr and str(prot) in r.stderr


def test_bad_config_value_and_unknown_role(tmp_path: Path) -> None:
    r = _run("config", "show", env={"STACKBOX_API__PORT": "eighty"})
    assert r.returncode == 2 and "api.port" in r.stderr
    r = _run("status", env={"STACKBOX_DEFAULT__STATE_DIR": str(tmp_path / "none")})
    assert r.returncode == 1 and "no database" in r.stderr
    assert not (tmp_path / "none").exists()
