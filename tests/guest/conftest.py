"""The test guest, built once per session into a persistent cache.

The build (two Debian packages fetched with apt-get download, ~28 MB, then unpacked) goes
to `stackbox.guest.build.default_cache_dir()` (/var/cache/stackbox/guest-build as root),
so later runs only check it is up to date (about 2 s); a fresh machine builds it once.
Tests that use it skip with the reason when this host cannot build it.
"""

from __future__ import annotations

import time

import pytest

from stackbox.guest.build import GuestArtifacts, build_test_guest, default_cache_dir
from stackbox.guest.debs import GuestBuildError


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "guest_build: builds the tiny test guest from Debian packages (cached)"
    )
    config.addinivalue_line("markers", "libvirt: boots real QEMU guests through libvirtd")


@pytest.fixture(scope="session")
def guest() -> GuestArtifacts:
    cache = default_cache_dir()
    start = time.monotonic()
    try:
        artifacts = build_test_guest(cache / "artifacts", cache)
    except GuestBuildError as exc:
        pytest.skip(f"cannot build the test guest on this host: {exc}")
    verb = "built" if artifacts.rebuilt else "up to date"
    print(f"\n[guest] {verb} in {time.monotonic() - start:.1f} s: {artifacts.disk.parent}")
    return artifacts
