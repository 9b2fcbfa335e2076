"""The host-command module: only allow-listed binaries, argv lists, clear failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackbox import privileged


def test_refuses_unlisted_binaries_and_shell_strings() -> None:
    with pytest.raises(ValueError, match="not allowed"):
        privileged.run(["sh", "-c", "echo hi"])
    with pytest.raises(ValueError, match="not allowed"):
        privileged.run(["qemu-img info /etc/passwd"])


@pytest.mark.skipif(not privileged.available("qemu-img"), reason="needs qemu-img (qemu-utils)")
def test_qemu_img_info_and_errors(tmp_path: Path) -> None:
    img = tmp_path / "-looks-like-an-option.qcow2"
    privileged.run(["qemu-img", "create", "-f", "qcow2", "--", str(img), "1M"])
    info = privileged.qemu_img_info(img)
    assert info["format"] == "qcow2" and info["virtual-size"] == 1024 * 1024
    with pytest.raises(privileged.CommandError) as err:
        privileged.qemu_img_info(tmp_path / "missing")
    assert err.value.returncode != 0 and "missing" in str(err.value)
