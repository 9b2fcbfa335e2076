"""Configuration: every option, its type, default and help text, in one place.

Values come from (lowest to highest precedence): the defaults below, a TOML file
(`--config FILE`, or `$STACKBOX_CONFIG`), and environment variables named
`STACKBOX_<SECTION>__<OPTION>` (upper case), e.g. `STACKBOX_DATABASE__CONNECTION`.

Options of a later service are added to OPTIONS here, not scattered over modules.
Nothing in this module reads other stackbox modules or performs I/O beyond reading
the file and the environment.
"""

from __future__ import annotations

import json
import os
import socket
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """An option has a bad value, or the file cannot be read."""


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [v.strip() for v in str(value).split(",") if v.strip()]


def _ports(value: Any) -> list[int]:
    ports = [int(v) for v in (value if isinstance(value, list) else _list(value))]
    if any(not 0 < p < 65536 for p in ports):
        raise ValueError(f"not a list of ports: {value!r}")
    return ports


def _json_strings(value: Any) -> list[str]:
    """Multi-valued JSON options ([pci]): a list of JSON strings, or one string (kept
    whole: JSON has commas of its own)."""
    if isinstance(value, list):
        return [v if isinstance(v, str) else json.dumps(v) for v in value]
    return [str(value)] if str(value).strip() else []


@dataclass(frozen=True)
class Opt:
    section: str
    name: str
    type: Callable[[Any], Any]
    default: Any
    help: str

    @property
    def env(self) -> str:
        return f"STACKBOX_{self.section.upper()}__{self.name.upper()}"


def default_state_dir() -> str:
    if os.geteuid() == 0:
        return "/var/lib/stackbox"
    return str(Path.home() / ".local/share/stackbox")


OPTIONS: list[Opt] = [
    # [default]
    Opt("default", "host", str, socket.gethostname(), "This host's name in the service registry."),
    Opt(
        "default",
        "state_dir",
        str,
        "",
        "Where state lives (empty: /var/lib/stackbox as root, else ~/.local/share/stackbox).",
    ),
    Opt("default", "log_level", str, "INFO", "DEBUG, INFO, WARNING or ERROR."),
    Opt("default", "log_format", str, "text", "'text' (key=value lines) or 'json'."),
    Opt("default", "region", str, "RegionOne", "Region of the catalog endpoints."),
    # [database]
    Opt(
        "database",
        "connection",
        str,
        "",
        "SQLAlchemy URL (empty: sqlite:///STATE_DIR/"
        "stackbox.db). E.g. postgresql+psycopg://user@host/db, mysql+pymysql://u:p@h/db.",
    ),
    Opt("database", "pool_size", int, 10, "Connection pool size (server databases)."),
    # [transport]
    Opt(
        "transport",
        "url",
        str,
        "local://",
        "Message bus: local:// (in-process) or rabbit://user:pass@host:5672/vhost (AMQP).",
    ),
    Opt("transport", "rpc_timeout", float, 60.0, "Default seconds a call waits for its reply."),
    Opt("transport", "exchange", str, "stackbox", "AMQP exchange name prefix."),
    # [api]
    Opt("api", "bind", str, "0.0.0.0", "Address the API listens on."),
    Opt("api", "port", int, 8080, "Port of the API (all services, path-prefixed)."),
    Opt(
        "api",
        "public_url",
        str,
        "",
        "Base URL put into the catalog (empty: http://<bind or 127.0.0.1>:<port>).",
    ),
    Opt(
        "api",
        "max_request_body_size",
        int,
        114688,
        "Largest JSON request body in bytes "
        "(bigger: 413). Uploads of image data have their own limits.",
    ),
    Opt("api", "workers_threads", int, 40, "Threads that run blocking request handlers."),
    Opt(
        "api",
        "inline_reads",
        str,
        "auto",
        "Run GET handlers on the event loop rather "
        "than in worker threads: 'auto' (on SQLite only), 'true' or 'false'.",
    ),
    Opt("api", "policy_file", str, "", "YAML/JSON file overriding policy rules."),
    Opt(
        "api",
        "enable_instance_password",
        _bool,
        True,
        "Return the admin password a rescue sets (Nova's [api] enable_instance_password; "
        "off: the rescue answers {}).",
    ),
    # [identity]
    Opt("identity", "token_expiration", int, 3600, "Token lifetime in seconds."),
    Opt(
        "identity",
        "token_cache_time",
        int,
        300,
        "Seconds a validated token stays cached; "
        "identity changes invalidate caches within revision_check_interval.",
    ),
    Opt(
        "identity",
        "revision_check_interval",
        float,
        1.0,
        "Seconds between checks for identity changes made by other API processes.",
    ),
    Opt(
        "identity",
        "key_repository",
        str,
        "",
        "Directory of token encryption keys (empty: "
        "STATE_DIR/fernet-keys). Share it between API hosts.",
    ),
    Opt(
        "identity",
        "credential_key_repository",
        str,
        "",
        "Directory of the keys encrypting stored credentials (empty: "
        "STATE_DIR/credential-keys). Share it between API hosts; never rotate it away.",
    ),
    Opt("identity", "password_hash_time_cost", int, 2, "argon2id iterations."),
    Opt("identity", "password_hash_memory_kib", int, 19456, "argon2id memory in KiB."),
    Opt(
        "identity",
        "admin_password",
        str,
        "",
        "Bootstrap password of 'admin' "
        "(empty: generated once and written to STATE_DIR/admin-password).",
    ),
    Opt("identity", "demo_password", str, "", "Bootstrap password of 'demo' (likewise)."),
    # [service]
    Opt("service", "report_interval", float, 10.0, "Seconds between service heartbeats."),
    Opt(
        "service",
        "service_down_time",
        float,
        60.0,
        "A service with no heartbeat for this long is down.",
    ),
    # [image]
    Opt(
        "image",
        "disk_formats",
        _list,
        "ami,ari,aki,vhd,vhdx,vmdk,raw,qcow2,vdi,iso,ploop,gpt",
        "Disk formats the Image API accepts (comma-separated): Glance's default list "
        "plus gpt (a whole disk with a partition table), which Glance inspects and "
        "takes once its operator lists it.",
    ),
    Opt(
        "image",
        "container_formats",
        _list,
        "ami,ari,aki,bare,ovf,ova,docker,compressed",
        "Container formats the Image API accepts (comma-separated).",
    ),
    Opt("image", "image_size_cap", int, 1 << 40, "Largest image upload in bytes (bigger: 413)."),
    Opt(
        "image",
        "user_storage_quota",
        int,
        0,
        "Bytes of image data one project may store (0: unlimited).",
    ),
    Opt(
        "image",
        "property_protection_file",
        str,
        "",
        "INI file of property protection rules (empty: no protections).",
    ),
    Opt(
        "image",
        "property_protection_rule_format",
        str,
        "roles",
        "'roles' or 'policies': what the protection rules name.",
    ),
    Opt("image", "image_tag_quota", int, 128, "Most tags one image may carry."),
    Opt("image", "image_member_quota", int, 128, "Most members one image may have."),
    Opt("image", "limit_param_default", int, 25, "Page size of image lists without ?limit."),
    Opt("image", "api_limit_max", int, 1000, "Largest page size of image lists."),
    # [image_import]: where imports may download from (the legacy `import` task, web-download);
    # Glance's [import_filtering_opts] and their defaults, plus allow_internal_hosts.
    Opt(
        "image_import",
        "allowed_schemes",
        _list,
        "http,https",
        "URL schemes imports may use (when set, disallowed_schemes is ignored).",
    ),
    Opt("image_import", "disallowed_schemes", _list, "", "URL schemes imports may not use."),
    Opt(
        "image_import",
        "allowed_hosts",
        _list,
        "",
        "The only hosts imports may use, names or IP addresses (empty: any; when set, "
        "disallowed_hosts is ignored).",
    ),
    Opt("image_import", "disallowed_hosts", _list, "", "Hosts imports may not use."),
    Opt(
        "image_import",
        "allowed_ports",
        _ports,
        "80,443",
        "Ports an import URL may name (when set, disallowed_ports is ignored; a URL "
        "without a port always passes).",
    ),
    Opt("image_import", "disallowed_ports", _ports, "", "Ports an import URL may not name."),
    Opt(
        "image_import",
        "allow_internal_hosts",
        _bool,
        False,
        "Let imports download from loopback, private, link-local and other non-public "
        "addresses (refused by default: they reach this cloud's own services).",
    ),
    # [up]
    Opt(
        "up",
        "write_user_clouds_yaml",
        _bool,
        True,
        "Merge the clouds into ~/.config/openstack/clouds.yaml on `stackbox up`.",
    ),
    Opt(
        "up",
        "test_guest",
        _bool,
        True,
        "On `stackbox up`, build the test guest (cached; needs root and apt) into "
        "STATE_DIR/guest and upload it as the public images stackbox-tiny[-kernel|-ramdisk] "
        "when they are missing.",
    ),
    # [compute]
    Opt(
        "compute",
        "image_cache_max_age",
        int,
        86400,
        "Seconds an image base file in instances/_base may stay unused before it is "
        "removed (Nova's remove_unused_original_minimum_age_seconds).",
    ),
    Opt(
        "compute",
        "image_cache_manager_interval",
        float,
        2400.0,
        "Seconds between runs of the image cache clean-up (<=0: never).",
    ),
    Opt(
        "compute",
        "virt_uri",
        str,
        "auto",
        "libvirt connection URI of the compute service: qemu:///system for real guests, "
        "test:///default for libvirt's own test hypervisor (no QEMU), or 'auto': QEMU when "
        "it can run here (starting libvirtd if needed), else the test hypervisor.",
    ),
    Opt("compute", "virt_type", str, "qemu", "Domain type on QEMU: 'kvm' or 'qemu' (TCG)."),
    Opt(
        "compute",
        "instance_name_template",
        str,
        "sbx-{cloud}-%08x",
        "libvirt domain name of a server, from its sequential id (Nova's option); "
        "'{cloud}' stands for the first 8 hex digits of the cloud's id (made once, kept in "
        "its database), so clouds sharing one libvirtd, or a cloud whose state dir was "
        "wiped, never reuse a name. Servers made before the cloud had an id keep Nova's "
        "'instance-%08x'; a template without '{cloud}' names every server as it always did.",
    ),
    Opt("compute", "instances_path", str, "", "Instance dirs (default STATE_DIR/instances)."),
    Opt("compute", "cpu_allocation_ratio", float, 4.0, "vCPUs per host CPU the scheduler sells."),
    Opt("compute", "ram_allocation_ratio", float, 1.0, "RAM overcommit ratio."),
    Opt("compute", "disk_allocation_ratio", float, 1.0, "Disk overcommit ratio."),
    Opt("compute", "reserved_host_memory_mb", int, 512, "RAM kept for the host."),
    Opt("compute", "reserved_host_disk_mb", int, 0, "Disk kept for the host."),
    Opt("compute", "reserved_host_cpus", int, 0, "Host CPUs kept for the host."),
    Opt("compute", "default_availability_zone", str, "nova", "Zone of hosts in no aggregate."),
    Opt("compute", "force_config_drive", _bool, False, "Give every server a config drive."),
    Opt("compute", "vnc_listen", str, "127.0.0.1", "Address guests' VNC servers listen on."),
    Opt(
        "compute",
        "shutdown_timeout",
        float,
        60.0,
        "Seconds a clean shutdown (stop, soft reboot, resize) may take before power-off.",
    ),
    Opt(
        "compute",
        "sync_power_state_interval",
        float,
        10.0,
        "Seconds between syncs of instance power states with the hypervisor (<=0: off).",
    ),
    Opt(
        "compute",
        "resource_update_interval",
        float,
        60.0,
        "Seconds between reports of this host's resources to the conductor.",
    ),
    Opt(
        "compute",
        "shelved_offload_time",
        int,
        0,
        "Seconds a shelved server keeps its host resources (0: offload at once, -1: never).",
    ),
    Opt("compute", "max_local_block_devices", int, 3, "Most local disks a server may have."),
    Opt(
        "compute",
        "reclaim_instance_interval",
        int,
        0,
        "Seconds a deleted server is kept SOFT_DELETED (restorable) before its host "
        "reclaims it (0: servers are deleted at once).",
    ),
    # [scheduler]
    Opt(
        "scheduler",
        "enabled_filters",
        str,
        "ComputeFilter,AvailabilityZoneFilter,ComputeCapabilitiesFilter,"
        "ImagePropertiesFilter,ResourceFilter,"
        "AggregateInstanceExtraSpecsFilter,AggregateMultiTenancyIsolation,"
        "ServerGroupAntiAffinityFilter,ServerGroupAffinityFilter,"
        "NUMATopologyFilter,PciPassthroughFilter",
        "Comma-separated filter names, applied in this order.",
    ),
    Opt("scheduler", "ram_weight_multiplier", float, 1.0, "> 0 spreads by free RAM, < 0 packs."),
    Opt("scheduler", "cpu_weight_multiplier", float, 1.0, "> 0 spreads by free vCPUs."),
    Opt("scheduler", "disk_weight_multiplier", float, 1.0, "> 0 spreads by free disk."),
    Opt(
        "scheduler",
        "soft_affinity_weight_multiplier",
        float,
        1.0,
        "Weight of hosts holding members of a soft-affinity server group.",
    ),
    Opt(
        "scheduler",
        "soft_anti_affinity_weight_multiplier",
        float,
        1.0,
        "Weight of hosts free of members of a soft-anti-affinity server group.",
    ),
    Opt(
        "scheduler",
        "host_subset_size",
        int,
        1,
        "Pick at random among this many best-weighed hosts (1: always the best).",
    ),
    Opt("scheduler", "max_attempts", int, 3, "Hosts a build is tried on before it fails."),
    # [pci] (Nova's JSON strings; a TOML list of them, or one string holding a JSON list)
    Opt("pci", "alias", _json_strings, [], 'PCI aliases: {"name", "vendor_id", "product_id"}.'),
    Opt(
        "pci",
        "passthrough_whitelist",
        _json_strings,
        [],
        'Devices this host offers: {"vendor_id", "product_id"} and/or {"address"}.',
    ),
    # [quota] (Nova's defaults; -1: unlimited; the "default" quota class overrides them)
    Opt("quota", "instances", int, 10, "Servers per project."),
    Opt("quota", "cores", int, 20, "vCPUs per project."),
    Opt("quota", "ram", int, 51200, "RAM (MiB) per project."),
    Opt("quota", "key_pairs", int, 100, "Key pairs per user."),
    Opt("quota", "metadata_items", int, 128, "Metadata items per server."),
    Opt("quota", "server_groups", int, 10, "Server groups per project."),
    Opt("quota", "server_group_members", int, 10, "Servers per server group."),
    Opt("quota", "injected_files", int, 5, "Personality files per server (before 2.57)."),
    Opt(
        "quota",
        "injected_file_content_bytes",
        int,
        10240,
        "Bytes of one personality file's content (before 2.57).",
    ),
    Opt(
        "quota",
        "injected_file_path_bytes",
        int,
        255,
        "Characters of one personality file's path (before 2.57).",
    ),
]

_BY_KEY = {(o.section, o.name): o for o in OPTIONS}


class Config:
    """Effective configuration. Access as `cfg.get("database", "connection")` or
    `cfg.database.connection`."""

    def __init__(
        self,
        values: Mapping[tuple[str, str], Any],
        sources: Mapping[tuple[str, str], str],
        path: str | None = None,
    ) -> None:
        self._values = dict(values)
        self._sources = dict(sources)
        self.path = path

    def get(self, section: str, name: str) -> Any:
        return self._values[(section, name)]

    def set(self, section: str, name: str, value: Any) -> None:
        opt = _BY_KEY[(section, name)]
        self._values[(section, name)] = opt.type(value)
        self._sources[(section, name)] = "override"

    def __getattr__(self, section: str) -> _Section:
        if section.startswith("_") or not any(o.section == section for o in OPTIONS):
            raise AttributeError(section)
        return _Section(self, section)

    # Derived values -----------------------------------------------------------------
    @property
    def state_dir(self) -> Path:
        return Path(self.get("default", "state_dir") or default_state_dir())

    @property
    def database_url(self) -> str:
        return self.get("database", "connection") or f"sqlite:///{self.state_dir / 'stackbox.db'}"

    @property
    def public_url(self) -> str:
        url = self.get("api", "public_url")
        if url:
            return url.rstrip("/")
        bind = self.get("api", "bind")
        host = "127.0.0.1" if bind in ("0.0.0.0", "::", "") else bind
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.get('api', 'port')}"

    @property
    def key_repository(self) -> Path:
        return Path(self.get("identity", "key_repository") or self.state_dir / "fernet-keys")

    @property
    def credential_key_repository(self) -> Path:
        return Path(
            self.get("identity", "credential_key_repository") or self.state_dir / "credential-keys"
        )

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(section.name, value, source, help) for `stackbox config show`."""
        out = []
        for o in OPTIONS:
            value = self._values[(o.section, o.name)]
            if "password" in o.name and value:
                value = "****"
            elif (o.section, o.name) in (("database", "connection"), ("transport", "url")):
                value = _hide_url_password(value)
            out.append(
                (f"{o.section}.{o.name}", str(value), self._sources[(o.section, o.name)], o.help)
            )
        return out


class _Section:
    def __init__(self, cfg: Config, section: str) -> None:
        self._cfg = cfg
        self._section = section

    def __getattr__(self, name: str) -> Any:
        try:
            return self._cfg.get(self._section, name)
        except KeyError:
            raise AttributeError(name) from None


def _hide_url_password(url: str) -> str:
    if "://" not in url or "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    if ":" in creds:
        creds = creds.split(":", 1)[0] + ":****"
    return f"{scheme}://{creds}@{host}"


def load(
    path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[tuple[str, str], Any] | None = None,
) -> Config:
    """Build the effective configuration from defaults, file, environment, overrides."""
    env = os.environ if env is None else env
    path = path or env.get("STACKBOX_CONFIG") or None
    file_values: dict[str, Any] = {}
    if path:
        try:
            with open(path, "rb") as fh:
                file_values = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
        for section, body in file_values.items():
            if not isinstance(body, dict):
                raise ConfigError(f"{path}: [{section}] must be a table")
            for name in body:
                if (section, name) not in _BY_KEY:
                    raise ConfigError(f"{path}: unknown option {section}.{name}")
    values: dict[tuple[str, str], Any] = {}
    sources: dict[tuple[str, str], str] = {}
    for o in OPTIONS:
        raw, source = o.default, "default"
        if o.name in file_values.get(o.section, {}):
            raw, source = file_values[o.section][o.name], f"file {path}"
        if o.env in env:
            raw, source = env[o.env], f"env {o.env}"
        if (
            overrides
            and (o.section, o.name) in overrides
            and overrides[(o.section, o.name)] is not None
        ):
            raw, source = overrides[(o.section, o.name)], "command line"
        try:
            values[(o.section, o.name)] = o.type(raw)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{o.section}.{o.name} ({source}): bad value {raw!r}: {exc}") from exc
        sources[(o.section, o.name)] = source
    return Config(values, sources, str(path) if path else None)
