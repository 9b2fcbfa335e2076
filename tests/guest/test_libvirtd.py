"""stackbox.virt.daemon: the idempotent qemu.conf edit (always runs) and bring-up (root)."""

from __future__ import annotations

import os

import pytest

from stackbox import privileged
from stackbox.virt.daemon import LibvirtUnavailable, ensure_libvirtd, qemu_conf_as_root


def test_qemu_conf_as_root_is_idempotent() -> None:
    assert qemu_conf_as_root("") == 'user = "root"\ngroup = "root"\n'
    debian = '# comment\n#user = "libvirt-qemu"\n#group = "libvirt-qemu"\nx = 1'
    once = qemu_conf_as_root(debian)
    assert once == '# comment\nuser = "root"\ngroup = "root"\nx = 1'
    assert qemu_conf_as_root(once) == once
    active = 'user = "qemu"\n#user = "x"\ngroup="kvm"\n'
    assert qemu_conf_as_root(active) == 'user = "root"\n#user = "x"\ngroup = "root"\n'


@pytest.mark.skipif(os.geteuid() != 0, reason="starting libvirtd needs root")
def test_ensure_libvirtd_answers() -> None:
    if not privileged.available("libvirtd"):
        with pytest.raises(LibvirtUnavailable, match="not installed"):
            ensure_libvirtd()
        return
    summary = ensure_libvirtd()
    assert "libvirt" in summary.lower()
    assert ensure_libvirtd() == summary  # already up: returns at once
    assert privileged.virsh(["version"]).returncode == 0
