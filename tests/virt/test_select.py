"""Choosing the libvirt URI and the designer's host facts from the configuration."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stackbox import config
from stackbox.virt import daemon, select


def cfg(**compute: object) -> config.Config:
    return config.load(env={}, overrides={("compute", k): v for k, v in compute.items()})


def test_an_explicit_uri_is_used_as_configured() -> None:
    uri, reason = select.choose_uri(cfg(virt_uri="test:///default"))
    assert uri == "test:///default" and "test driver" in reason and "virt_uri" in reason
    uri, reason = select.choose_uri(cfg(virt_uri="qemu+ssh://h/system"))
    assert uri == "qemu+ssh://h/system" and "compute.virt_uri" in reason


def test_auto_without_qemu_falls_back_to_the_test_driver(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(select, "QEMU_BINARY", tmp_path / "qemu-system-x86_64")
    uri, reason = select.choose_uri(cfg(virt_uri="auto"))
    assert uri == "test:///default"
    assert reason == f"libvirt test driver: {tmp_path / 'qemu-system-x86_64'} is not installed"


def test_auto_when_libvirtd_cannot_run_says_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    binary = tmp_path / "qemu-system-x86_64"
    binary.touch()
    monkeypatch.setattr(select, "QEMU_BINARY", binary)

    def refuse(uri: str = "qemu:///system", timeout: float = 20.0) -> str:
        raise daemon.LibvirtUnavailable("starting it needs root (no systemd here)")

    monkeypatch.setattr(daemon, "ensure_libvirtd", refuse)
    uri, reason = select.choose_uri(cfg())
    assert uri == "test:///default"
    assert reason == "libvirt test driver: starting it needs root (no systemd here)"


def test_auto_picks_qemu_when_libvirtd_answers() -> None:
    if not select.QEMU_BINARY.exists():
        pytest.skip(f"{select.QEMU_BINARY} is not installed")
    if os.geteuid() != 0:
        pytest.skip("starting libvirtd needs root")
    try:
        daemon.ensure_libvirtd()
    except daemon.LibvirtUnavailable as exc:
        pytest.skip(f"libvirtd cannot run here: {exc}")
    assert select.choose_uri(cfg()) == ("qemu:///system", "QEMU (TCG) via qemu:///system")
    assert select.choose_uri(cfg(virt_type="kvm"))[1] == "QEMU (KVM) via qemu:///system"


def test_guest_host_config_follows_the_uri_and_options() -> None:
    test = select.guest_host_config(cfg(virt_type="kvm"), "test:///default")
    assert test.virt_type == "test"
    qemu = select.guest_host_config(cfg(vnc_listen="0.0.0.0"), "qemu:///system")
    assert (qemu.virt_type, qemu.vnc_listen, qemu.arch) == ("qemu", "0.0.0.0", "x86_64")
    assert select.guest_host_config(cfg(virt_type="kvm"), "qemu:///system").virt_type == "kvm"
