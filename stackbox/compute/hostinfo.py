"""What a compute host says about itself beyond its resources: the `uptime`-style line
Nova's hypervisor uptime API shows (seconds up and load averages from /proc)."""

from __future__ import annotations

from pathlib import Path


def uptime_text(proc: Path = Path("/proc")) -> str | None:
    """E.g. " up 3 days,  4:05,  load average: 0.10, 0.20, 0.30"; None without /proc."""
    try:
        up = float((proc / "uptime").read_text().split()[0])
        load = (proc / "loadavg").read_text().split()[:3]
    except (OSError, ValueError, IndexError):
        return None
    days, rest = divmod(int(up), 86400)
    hours, minutes = divmod(rest // 60, 60)
    return f" up {days} days, {hours:2d}:{minutes:02d},  load average: {', '.join(load)}"
