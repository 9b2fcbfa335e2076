"""What flavor extra specs and image properties ask of the guest's virtual hardware.

Pure: `guest_hardware(vcpus, flavor_specs, image_props)` reads Nova's keys (seed 002
§5.4.3.2) and returns a typed `GuestHardware` -- CPU topology, `<cputune>` shares/period/
quota, per-disk `<iotune>`, per-NIC `<bandwidth>`, watchdog, RNG, firmware and the memory
page size request -- or raises `HardwareError` with a message fit for a 400. The API calls
it (`validate`) at create, resize and rebuild, so a bad combination is refused before the
guest exists; the designer calls it again to build the XML. Image properties win over the
flavor (the seed's rule), within the limits the flavor sets (`hw:cpu_max_*`,
`hw_rng:allowed`, `hw:mem_page_size`). No I/O here except `find_ovmf`, which only looks
for firmware files. CPU pinning, NUMA and PCI live elsewhere (the NUMA/PCI helpers).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

WATCHDOG_ACTIONS = ("disabled", "reset", "poweroff", "pause", "none")
FIRMWARE_TYPES = ("bios", "uefi")
RNG_MODELS = ("virtio",)
RNG_BACKEND = "/dev/urandom"  # Nova's default rng_dev_path
PAGE_SIZES = ("small", "large", "any")
MAX_TOPOLOGY = 65536
DISK_KEYS = tuple(
    f"disk_{op}_{kind}_sec" for op in ("read", "write", "total") for kind in ("bytes", "iops")
)
VIF_KEYS = tuple(
    f"vif_{way}_{what}" for way in ("inbound", "outbound") for what in ("average", "peak", "burst")
)
_TRUE = ("1", "t", "true", "on", "y", "yes")
_FALSE = ("0", "f", "false", "off", "n", "no")
_SIZE = re.compile(r"^(\d+)\s*([KMG]i?B?|B)?$", re.IGNORECASE)
_SIZE_KIB = {"": 1, "K": 1, "M": 1024, "G": 1024**2, "B": 0}

# (code, vars) pairs tried in order; the first found is the UEFI firmware of the host
OVMF_PAIRS = (
    ("/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"),
    ("/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd"),
    ("/usr/share/edk2/ovmf/OVMF_CODE.fd", "/usr/share/edk2/ovmf/OVMF_VARS.fd"),
    ("/usr/share/qemu/OVMF.fd", ""),
)


class HardwareError(ValueError):
    """The flavor and image ask for hardware that is invalid or contradictory."""


@dataclass(frozen=True)
class Topology:
    sockets: int
    cores: int
    threads: int


@dataclass(frozen=True)
class CPUTuneSpec:
    """`<cputune>` shares (relative weight), period and quota (microseconds)."""

    shares: int | None = None
    period: int | None = None
    quota: int | None = None


@dataclass(frozen=True)
class RNGSpec:
    model: str = "virtio"
    backend: str = RNG_BACKEND
    rate_bytes: int | None = None
    rate_period: int | None = None  # libvirt's unit: milliseconds


@dataclass(frozen=True)
class GuestHardware:
    topology: Topology
    cputune: CPUTuneSpec | None = None
    disk_tune: dict[str, int] = field(default_factory=dict)  # read_bytes_sec... → value
    vif_tune: dict[str, int] = field(default_factory=dict)  # inbound_average... → value
    watchdog_action: str | None = None  # None: no watchdog device
    rng: RNGSpec | None = None
    firmware: str = "bios"
    mem_page_size: str | int | None = None  # small | large | any | KiB


def _int(specs: Mapping[str, str], key: str, low: int | None = None) -> int | None:
    raw = specs.get(key)
    if raw is None or str(raw).strip() == "":
        return None
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise HardwareError(f"Invalid value '{raw}' for {key}: must be an integer.") from None
    if low is not None and value < low:
        raise HardwareError(f"Invalid value '{raw}' for {key}: must be at least {low}.")
    return value


def _bool(raw: str, key: str) -> bool:
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise HardwareError(f"Invalid value '{raw}' for {key}: must be a boolean.")


def _choice(raw: str | None, key: str, allowed: Iterable[str]) -> str | None:
    if raw is None:
        return None
    allowed = tuple(allowed)
    if str(raw).strip().lower() not in allowed:
        raise HardwareError(
            f"Invalid value '{raw}' for {key}: must be one of {', '.join(allowed)}."
        )
    return str(raw).strip().lower()


def _factorings(n: int) -> list[tuple[int, int, int]]:
    """Every (sockets, cores, threads) whose product is n."""
    divisors = [d for d in range(1, n + 1) if n % d == 0]
    return [(s, c, n // s // c) for s in divisors for c in divisors if (n // s) % c == 0]


def topology(vcpus: int, flavor: Mapping[str, str], image: Mapping[str, str]) -> Topology:
    """The guest CPU topology: preferred counts from the image if it names any, else from
    the flavor; limits are the flavor's `hw:cpu_max_*`, which image values (preferred or
    `hw_cpu_max_*`) may not exceed; the product must equal the vCPUs."""
    names = ("sockets", "cores", "threads")
    fmax = {n: _int(flavor, f"hw:cpu_max_{n}", 1) or MAX_TOPOLOGY for n in names}
    fpref = {n: _int(flavor, f"hw:cpu_{n}", 1) for n in names}
    imax = {n: _int(image, f"hw_cpu_max_{n}", 1) for n in names}
    ipref = {n: _int(image, f"hw_cpu_{n}", 1) for n in names}
    for n in names:
        if fpref[n] is not None and fpref[n] > fmax[n]:  # type: ignore[operator]
            raise HardwareError(
                f"Flavor vCPU topology {n}={fpref[n]} exceeds the limit of {fmax[n]} "
                f"(hw:cpu_max_{n})."
            )
        if imax[n] is not None and imax[n] > fmax[n]:  # type: ignore[operator]
            raise HardwareError(
                f"Image vCPU topology limit {n}={imax[n]} (hw_cpu_max_{n}) exceeds the flavor "
                f"limit of {fmax[n]} (hw:cpu_max_{n})."
            )
    limit = {n: imax[n] or fmax[n] for n in names}
    pref = ipref if any(v is not None for v in ipref.values()) else fpref
    for n in names:
        if pref[n] is not None and pref[n] > limit[n]:  # type: ignore[operator]
            raise HardwareError(
                f"Image vCPU topology {n}={pref[n]} exceeds the limit of {limit[n]}."
            )
    choices = [
        (s, c, t)
        for s, c, t in _factorings(vcpus)
        if all(v <= limit[n] for v, n in zip((s, c, t), names, strict=True))
        and all(pref[n] in (None, v) for v, n in zip((s, c, t), names, strict=True))
    ]
    if not choices:
        asked = ", ".join(f"{n}={pref[n]}" for n in names if pref[n] is not None)
        limits = ", ".join(f"{n}<={limit[n]}" for n in names if limit[n] < MAX_TOPOLOGY)
        detail = "; ".join(x for x in (asked, limits) if x)
        raise HardwareError(
            f"Cannot find a CPU topology for {vcpus} vCPUs"
            + (f" with {detail}" if detail else "")
            + " (sockets * cores * threads must equal the vCPUs)."
        )
    s, c, t = max(choices)  # most sockets, then cores (Nova's default: one socket per vCPU)
    return Topology(s, c, t)


def cputune(flavor: Mapping[str, str]) -> CPUTuneSpec | None:
    """quota:cpu_shares/period/quota; the seed's ranges (0 = no value for period/quota)."""
    shares = _int(flavor, "quota:cpu_shares", 0)
    period = _int(flavor, "quota:cpu_period")
    quota = _int(flavor, "quota:cpu_quota")
    if period is not None and period != 0 and not 1000 <= period <= 1000000:
        raise HardwareError(
            f"Invalid value '{period}' for quota:cpu_period: must be in [1000, 1000000] or 0."
        )
    if quota is not None and 0 <= quota < 1000 and quota != 0:
        raise HardwareError(
            f"Invalid value '{quota}' for quota:cpu_quota: must be at least 1000, 0 or negative."
        )
    period = period or None
    quota = quota or None
    if shares is None and period is None and quota is None:
        return None
    return CPUTuneSpec(shares=shares, period=period, quota=quota)


def disk_tune(flavor: Mapping[str, str]) -> dict[str, int]:
    """quota:disk_*_sec → `<iotune>` children; total excludes read/write of the same kind."""
    tune = {k[5:]: v for k in DISK_KEYS if (v := _int(flavor, f"quota:{k}", 0)) is not None}
    for kind in ("bytes", "iops"):
        both = [f"{op}_{kind}_sec" for op in ("read", "write") if f"{op}_{kind}_sec" in tune]
        if f"total_{kind}_sec" in tune and both:
            raise HardwareError(
                f"quota:disk_total_{kind}_sec cannot be combined with "
                + " or ".join(f"quota:disk_{b}" for b in both)
                + "."
            )
    return tune


def vif_tune(flavor: Mapping[str, str]) -> dict[str, int]:
    """quota:vif_* → `<bandwidth>`; peak or burst need the direction's average."""
    tune = {k[4:]: v for k in VIF_KEYS if (v := _int(flavor, f"quota:{k}", 0)) is not None}
    for way in ("inbound", "outbound"):
        extra = [w for w in ("peak", "burst") if f"{way}_{w}" in tune]
        if extra and f"{way}_average" not in tune:
            raise HardwareError(f"quota:vif_{way}_{extra[0]} needs quota:vif_{way}_average.")
    return tune


def watchdog(flavor: Mapping[str, str], image: Mapping[str, str]) -> str | None:
    """The watchdog action; the image's hw_watchdog_action overrides the flavor's."""
    fa = _choice(flavor.get("hw:watchdog_action"), "hw:watchdog_action", WATCHDOG_ACTIONS)
    ia = _choice(image.get("hw_watchdog_action"), "hw_watchdog_action", WATCHDOG_ACTIONS)
    action = ia or fa
    return None if action in (None, "disabled") else action


def rng(flavor: Mapping[str, str], image: Mapping[str, str]) -> RNGSpec | None:
    """A virtio RNG only when the image asks (hw_rng_model=virtio) and the flavor allows
    it (hw_rng:allowed, default True as in Nova); rate from hw_rng:rate_bytes/_period."""
    allowed = _bool(flavor.get("hw_rng:allowed", "True"), "hw_rng:allowed")
    rate_bytes = _int(flavor, "hw_rng:rate_bytes", 1)
    rate_period = _int(flavor, "hw_rng:rate_period", 1)
    if rate_period is not None and rate_bytes is None:
        raise HardwareError("hw_rng:rate_period needs hw_rng:rate_bytes.")
    model = _choice(image.get("hw_rng_model"), "hw_rng_model", RNG_MODELS)
    if model is None:
        return None
    if not allowed:
        raise HardwareError(
            f"The image asks for a random number generator (hw_rng_model={model}) but the "
            "flavor does not allow one (hw_rng:allowed=False)."
        )
    return RNGSpec(model=model, rate_bytes=rate_bytes, rate_period=rate_period)


def firmware(flavor: Mapping[str, str], image: Mapping[str, str]) -> str:
    """bios or uefi: the image's hw_firmware_type over the flavor's hw:firmware_type."""
    fw = _choice(flavor.get("hw:firmware_type"), "hw:firmware_type", FIRMWARE_TYPES)
    iw = _choice(image.get("hw_firmware_type"), "hw_firmware_type", FIRMWARE_TYPES)
    return iw or fw or "bios"


def _page_size(raw: str | None, key: str) -> str | int | None:
    if raw is None:
        return None
    text = str(raw).strip()
    if text.lower() in PAGE_SIZES:
        return text.lower()
    m = _SIZE.match(text)
    if m:
        unit = (m.group(2) or "").upper()[:1]
        kib = int(m.group(1)) * _SIZE_KIB[unit] if unit != "B" else int(m.group(1)) // 1024
        if kib > 0:
            return kib
    raise HardwareError(
        f"Invalid value '{raw}' for {key}: "
        "must be small, large, any or a size (e.g. 2048, 2MB, 1GB)."
    )


def mem_page_size(flavor: Mapping[str, str], image: Mapping[str, str]) -> str | int | None:
    """hw:mem_page_size, or the image's hw_mem_page_size where the flavor allows a choice
    (large or any); the fitting against host pages is the NUMA helper's job."""
    fp = _page_size(flavor.get("hw:mem_page_size"), "hw:mem_page_size")
    ip = _page_size(image.get("hw_mem_page_size"), "hw_mem_page_size")
    if ip is None:
        return fp
    if fp not in ("large", "any") or (fp == "large" and ip == "small"):
        raise HardwareError(f"Page size {ip} forbidden against '{fp or '<empty>'}'.")
    return ip


def guest_hardware(
    vcpus: int, flavor_specs: Mapping[str, str] | None, image_props: Mapping[str, str] | None
) -> GuestHardware:
    """Everything the flavor and image ask of the guest's hardware (HardwareError if bad)."""
    flavor = {str(k): str(v) for k, v in (flavor_specs or {}).items()}
    image = {str(k): str(v) for k, v in (image_props or {}).items()}
    return GuestHardware(
        topology=topology(vcpus, flavor, image),
        cputune=cputune(flavor),
        disk_tune=disk_tune(flavor),
        vif_tune=vif_tune(flavor),
        watchdog_action=watchdog(flavor, image),
        rng=rng(flavor, image),
        firmware=firmware(flavor, image),
        mem_page_size=mem_page_size(flavor, image),
    )


def validate(
    vcpus: int, flavor_specs: Mapping[str, str] | None, image_props: Mapping[str, str] | None
) -> GuestHardware:
    """`guest_hardware` under the name the API uses for its create/resize/rebuild check."""
    return guest_hardware(vcpus, flavor_specs, image_props)


def find_ovmf(pairs: Iterable[tuple[str, str]] = OVMF_PAIRS) -> tuple[str, str] | None:
    """(code, vars template) of the first UEFI firmware installed ("" when the build has
    no separate vars file), None when the host has none."""
    for code, nvram in pairs:
        if Path(code).is_file():
            return code, nvram if nvram and Path(nvram).is_file() else ""
    return None
