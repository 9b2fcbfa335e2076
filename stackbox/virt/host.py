"""The libvirt connection of a compute host: `Host(uri)` opens lazily, reopens after the
daemon went away (libvirtd restart), finds and defines guests, and reads what the host
offers (node info, parsed capabilities, hypervisor type and version).

Every libvirt error leaves this module (and `guest.py`) as `driver.VirtError` with a
clear message, or `driver.GuestNotFound` when the domain does not exist. Calls block:
callers run them in threads; the connection is shared and libvirt-python is thread-safe.
Not here: one domain's operations (`guest.py`), orchestration (`libvirt_driver.py`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid as uuidlib
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import libvirt

from stackbox.virt.driver import GuestNotFound, VirtError
from stackbox.virt.guest import Guest, translate

LOG = logging.getLogger(__name__)
T = TypeVar("T")

# errors meaning "the connection is gone", after which one reconnect + retry is worth it
_CONNECTION_ERRORS = frozenset(
    {
        libvirt.VIR_ERR_SYSTEM_ERROR,
        libvirt.VIR_ERR_RPC,
        libvirt.VIR_ERR_NO_CONNECT,
        libvirt.VIR_ERR_INVALID_CONN,
        libvirt.VIR_ERR_INTERNAL_ERROR,
    }
)


def _silence(_ctx: object, _err: object) -> None:
    """libvirt prints every error to stderr by default; we raise them instead."""


libvirt.registerErrorHandler(_silence, None)


@dataclass(frozen=True)
class CpuTopology:
    sockets: int
    cores: int
    threads: int


@dataclass(frozen=True)
class Capabilities:
    """The parts of `virConnectGetCapabilities` the compute service uses."""

    arch: str
    model: str | None
    vendor: str | None
    topology: CpuTopology | None
    features: tuple[str, ...]
    memory_kib: int  # sum over NUMA cells (0 when the driver lists none)
    # (arch, domain type, os type) for every guest kind the hypervisor can run
    guests: tuple[tuple[str, str, str], ...] = field(default_factory=tuple)

    @classmethod
    def from_xml(cls, text: str) -> Capabilities:
        root = ET.fromstring(text)
        cpu = root.find("host/cpu")
        arch = (cpu.findtext("arch") if cpu is not None else None) or ""
        topo_el = cpu.find("topology") if cpu is not None else None
        topology = None
        if topo_el is not None:
            topology = CpuTopology(
                sockets=int(topo_el.get("sockets", "1")),
                cores=int(topo_el.get("cores", "1")),
                threads=int(topo_el.get("threads", "1")),
            )
        features: tuple[str, ...] = ()
        if cpu is not None:
            named = [f.get("name", "") for f in cpu.findall("feature")]
            flags = [f.tag for f in cpu.findall("features/*")]
            features = tuple(n for n in named + flags if n)
        memory = sum(int(m.text or 0) for m in root.findall("host/topology/cells/cell/memory"))
        guests: list[tuple[str, str, str]] = []
        for g in root.findall("guest"):
            os_type = g.findtext("os_type") or ""
            a = g.find("arch")
            if a is None:
                continue
            for d in a.findall("domain"):
                guests.append((a.get("name", ""), d.get("type", ""), os_type))
        return cls(
            arch=arch,
            model=cpu.findtext("model") if cpu is not None else None,
            vendor=cpu.findtext("vendor") if cpu is not None else None,
            topology=topology,
            features=features,
            memory_kib=memory,
            guests=tuple(dict.fromkeys(guests)),
        )


@dataclass(frozen=True)
class NodeInfo:
    """`virNodeGetInfo`: cpu model, memory (MiB), cpus, MHz, NUMA nodes, topology."""

    model: str
    memory_mb: int
    cpus: int
    mhz: int
    nodes: int
    sockets: int
    cores: int
    threads: int


class Host:
    """One libvirt connection (opened on first use, reopened when it died)."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self._conn: libvirt.virConnect | None = None
        self._lock = threading.Lock()

    # -- the connection ---------------------------------------------------------------

    def get_connection(self) -> libvirt.virConnect:
        with self._lock:
            conn = self._conn
            if conn is not None:
                try:
                    if conn.isAlive():
                        return conn
                except libvirt.libvirtError:
                    pass
                LOG.warning("libvirt connection to %s was lost; reconnecting", self.uri)
                with contextlib.suppress(libvirt.libvirtError):
                    conn.close()
                self._conn = None
            with translate(f"cannot connect to libvirt at {self.uri}"):
                self._conn = libvirt.open(self.uri)
            return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(libvirt.libvirtError):
                    self._conn.close()
                self._conn = None

    def _retrying(self, what: str, fn: Callable[[libvirt.virConnect], T], uuid: str = "") -> T:
        """fn(conn), retried once on a fresh connection when the old one died under it."""
        conn = self.get_connection()
        try:
            with translate(what, uuid):
                return fn(conn)
        except VirtError as exc:
            cause = exc.__cause__
            if not (
                isinstance(cause, libvirt.libvirtError)
                and cause.get_error_code() in _CONNECTION_ERRORS
                and not _alive(conn)
            ):
                raise
        LOG.warning("libvirt connection to %s was lost; reconnecting", self.uri)
        with self._lock:
            if self._conn is conn:
                self._conn = None
        with contextlib.suppress(libvirt.libvirtError):
            conn.close()
        conn = self.get_connection()
        with translate(what, uuid):
            return fn(conn)

    # -- guests -----------------------------------------------------------------------

    def lookup_guest(self, uuid: str) -> Guest:
        """The guest with this uuid; raises GuestNotFound (also for a malformed uuid)."""
        try:
            uuidlib.UUID(uuid)
        except (ValueError, TypeError, AttributeError):
            raise GuestNotFound(f"no guest {uuid!r} on this host: not a uuid") from None
        dom = self._retrying(
            f"cannot look up guest {uuid}", lambda c: c.lookupByUUIDString(uuid), uuid
        )
        return Guest(dom)

    def find_guest(self, uuid: str) -> Guest | None:
        try:
            return self.lookup_guest(uuid)
        except GuestNotFound:
            return None

    def find_guest_by_name(self, name: str) -> Guest | None:
        """The guest named `name`, None when there is none."""
        try:
            dom = self._retrying(f"cannot look up guest {name}", lambda c: c.lookupByName(name))
        except GuestNotFound:
            return None
        return Guest(dom)

    def define(self, xml: str) -> Guest:
        """Define (or redefine) a persistent guest from its domain XML."""
        return Guest(self._retrying("cannot define guest", lambda c: c.defineXML(xml)))

    def list_guests(self) -> list[Guest]:
        """Every guest, running or not."""
        domains = self._retrying("cannot list guests", lambda c: c.listAllDomains(0))
        return [Guest(d) for d in domains]

    # -- what the host offers ---------------------------------------------------------

    def capabilities(self) -> Capabilities:
        text = self._retrying("cannot read capabilities", lambda c: c.getCapabilities())
        return Capabilities.from_xml(text)

    def capabilities_xml(self) -> str:
        """The raw capabilities document (NUMA cells, huge pages: virt/numa.py)."""
        return str(self._retrying("cannot read capabilities", lambda c: c.getCapabilities()))

    def pci_device_xmls(self) -> list[str]:
        """`virNodeDeviceGetXMLDesc` of every PCI node device ([] where the driver
        cannot list them, e.g. the test driver)."""
        try:
            devs = self._retrying(
                "cannot list node devices",
                lambda c: c.listAllDevices(libvirt.VIR_CONNECT_LIST_NODE_DEVICES_CAP_PCI_DEV),
            )
        except Exception:  # unsupported by this driver (test:///default): no devices
            return []
        return [d.XMLDesc(0) for d in devs]

    def node_info(self) -> NodeInfo:
        info = self._retrying("cannot read node info", lambda c: c.getInfo())
        return NodeInfo(str(info[0]), *(int(v) for v in info[1:8]))

    def hypervisor_type(self) -> str:
        """libvirt's driver name: "QEMU", "TEST"..."""
        return str(self._retrying("cannot read hypervisor type", lambda c: c.getType()))

    def hypervisor_version(self) -> int:
        """The hypervisor's version (major*1e6 + minor*1e3 + release), else libvirt's."""
        version = int(self._retrying("cannot read version", lambda c: c.getVersion()) or 0)
        if version <= 2:  # the test driver answers 2
            version = int(self._retrying("cannot read version", lambda c: c.getLibVersion()))
        return version

    def hostname(self) -> str:
        return str(self._retrying("cannot read host name", lambda c: c.getHostname()))


def _alive(conn: libvirt.virConnect) -> bool:
    try:
        return bool(conn.isAlive())
    except libvirt.libvirtError:
        return False
