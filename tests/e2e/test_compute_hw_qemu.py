"""Flavor extra specs shaping a real QEMU (TCG) guest, through the unmodified `openstack`
CLI: `flavor set --property hw:cpu_sockets/hw:cpu_cores/hw:cpu_policy/hw:watchdog_action/
quota:cpu_shares`, a boot that reaches the test guest's ready line, and `virsh dumpxml`
showing `<cpu><topology>`, `<watchdog>` and `<cputune><shares>`; a flavor whose topology
cannot hold its vCPUs is refused with a 400 by `server create`. One guest, removed at the
end (and by the fixture if a test fails). Skips, saying why, where QEMU cannot run."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest

from tests.e2e import conftest as e2e
from tests.e2e.conftest import Running
from tests.e2e.test_compute_qemu import (
    BOOT_WAIT,
    READY,
    _cli,
    _console_until,
)


@pytest.fixture(scope="module")
def qemu_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    yield from e2e.qemu_cloud(tmp_path_factory.mktemp("qemuhw"))


def _flavor(run: Running, name: str, vcpus: int, *props: str) -> None:
    tiny = run.openstack_json("--os-cloud", "stackbox", "flavor", "show", "m1.tiny")
    assert isinstance(tiny, dict)
    _cli(run, "flavor", "create", "--vcpus", str(vcpus), "--ram", str(tiny["ram"]),
         "--disk", str(tiny["disk"]), name)  # fmt: skip
    args = [x for p in props for x in ("--property", p)]
    _cli(run, "flavor", "set", *args, name)


def test_topology_pinning_watchdog_and_cpu_shares_reach_the_guest(
    qemu_cloud: Running,
) -> None:
    run = qemu_cloud
    _flavor(
        run,
        "hw.shaped",
        2,
        "hw:cpu_sockets=1",
        "hw:cpu_cores=2",
        "hw:cpu_policy=dedicated",
        "hw:watchdog_action=reset",
        "quota:cpu_shares=2048",
    )
    _flavor(run, "hw.bad", 2, "hw:cpu_sockets=1", "hw:cpu_cores=4")
    bad = run.openstack(
        "--os-cloud", "stackbox", "server", "create", "--image", "stackbox-tiny",
        "--flavor", "hw.bad", "nope", check=False,
    )  # fmt: skip
    assert bad.returncode != 0
    assert "400" in bad.stderr and "Cannot find a CPU topology for 2 vCPUs" in bad.stderr

    created = run.openstack_json(
        "--os-cloud", "stackbox", "server", "create", "--image", "stackbox-tiny",
        "--flavor", "hw.shaped", "--wait", "hw1",
    )  # fmt: skip
    assert isinstance(created, dict) and created["status"] == "ACTIVE", created
    sid = created["id"]
    try:
        _console_until(run, "hw1", f"{READY}{sid}", BOOT_WAIT)
        xml = subprocess.run(
            ["virsh", "-c", "qemu:///system", "dumpxml", sid],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        dom = ET.fromstring(xml)
        assert dom.findtext("vcpu") == "2"
        topo = dom.find("cpu/topology")
        assert topo is not None, xml
        assert (topo.get("sockets"), topo.get("cores"), topo.get("threads")) == ("1", "2", "1")
        wd = dom.find("devices/watchdog")
        assert wd is not None, xml
        assert (wd.get("model"), wd.get("action")) == ("i6300esb", "reset")
        assert dom.findtext("cputune/shares") == "2048", xml
        # dedicated: each vCPU pinned to its own host CPU
        pins = {p.get("vcpu"): p.get("cpuset") for p in dom.findall("cputune/vcpupin")}
        assert set(pins) == {"0", "1"} and len(set(pins.values())) == 2, xml
    finally:
        _cli(run, "server", "delete", "--wait", "hw1")
    listed = subprocess.run(
        ["virsh", "-c", "qemu:///system", "list", "--all", "--uuid"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert sid not in listed
