"""Weighers: normalised free RAM/CPU/disk times multipliers; subset picking."""

from __future__ import annotations

import random

from stackbox.scheduler import weighers
from tests.scheduler.test_filters import make_host


def test_normalise() -> None:
    assert weighers.normalise([2, 4, 6]) == [0.0, 0.5, 1.0]
    assert weighers.normalise([3, 3]) == [0.0, 0.0]
    assert weighers.normalise([]) == []


def test_ram_weigher_spreads_with_positive_and_packs_with_negative_multiplier() -> None:
    full = make_host(host="full", memory_mb_used=6000)
    empty = make_host(host="empty", memory_mb_used=0)
    half = make_host(host="half", memory_mb_used=3000)
    hosts = [full, empty, half]
    spread = weighers.ranked(hosts, [(weighers.RAM, 1.0)])
    assert [h.host for h in spread] == ["empty", "half", "full"]
    pack = weighers.ranked(hosts, [(weighers.RAM, -1.0)])
    assert [h.host for h in pack] == ["full", "half", "empty"]


def test_cpu_and_disk_weighers_and_combined_weight() -> None:
    a = make_host(host="a", vcpus_used=10, local_gb_used=0)  # few vcpus free, all disk
    b = make_host(host="b", vcpus_used=0, local_gb_used=90)  # all vcpus free, little disk
    assert [h.host for h in weighers.ranked([a, b], [(weighers.CPU, 1.0)])] == ["b", "a"]
    assert [h.host for h in weighers.ranked([a, b], [(weighers.DISK, 1.0)])] == ["a", "b"]
    both = [(weighers.CPU, 1.0), (weighers.DISK, 2.0)]
    assert weighers.weigh([a, b], both) == [2.0, 1.0]
    assert [h.host for h in weighers.ranked([a, b], [(weighers.CPU, 0.0)])] == ["a", "b"]


def test_pick_stays_within_the_subset() -> None:
    hosts = [make_host(host=str(i)) for i in range(10)]
    rng = random.Random(1)
    assert {weighers.pick(hosts, 1, rng) for _ in range(50)} == {0}
    picks = {weighers.pick(hosts, 3, rng) for _ in range(200)}
    assert picks == {0, 1, 2}
    assert weighers.pick(hosts[:2], 5, rng) in (0, 1)
