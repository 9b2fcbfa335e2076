"""Instance states as Nova has them: vm_state (what the instance is), task_state (what
is being done to it), power_state (what the hypervisor says), and the API `status`
derived from the first two. Pure data and functions; no I/O.

Which actions are allowed in which states lives in `ALLOWED`, so the API can answer
409 before anything is cast (Nova's `check_instance_state`)."""

from __future__ import annotations

from typing import Final

# --- vm_state ---------------------------------------------------------------
BUILDING: Final = "building"
ACTIVE: Final = "active"
STOPPED: Final = "stopped"
PAUSED: Final = "paused"
SUSPENDED: Final = "suspended"
RESIZED: Final = "resized"
ERROR: Final = "error"
DELETED: Final = "deleted"
SHELVED: Final = "shelved"
SHELVED_OFFLOADED: Final = "shelved_offloaded"
RESCUED: Final = "rescued"
SOFT_DELETED: Final = "soft-delete"

# --- task_state -------------------------------------------------------------
SCHEDULING: Final = "scheduling"
BLOCK_DEVICE_MAPPING: Final = "block_device_mapping"
NETWORKING: Final = "networking"
SPAWNING: Final = "spawning"
REBOOTING: Final = "rebooting"
REBOOT_PENDING: Final = "reboot_pending"
REBOOT_STARTED: Final = "reboot_started"
REBOOTING_HARD: Final = "rebooting_hard"
REBOOT_PENDING_HARD: Final = "reboot_pending_hard"
REBOOT_STARTED_HARD: Final = "reboot_started_hard"
PAUSING: Final = "pausing"
UNPAUSING: Final = "unpausing"
SUSPENDING: Final = "suspending"
RESUMING: Final = "resuming"
POWERING_OFF: Final = "powering-off"
POWERING_ON: Final = "powering-on"
REBUILDING: Final = "rebuilding"
REBUILD_SPAWNING: Final = "rebuild_spawning"
RESIZE_PREP: Final = "resize_prep"
RESIZE_MIGRATING: Final = "resize_migrating"
RESIZE_MIGRATED: Final = "resize_migrated"
RESIZE_FINISH: Final = "resize_finish"
RESIZE_REVERTING: Final = "resize_reverting"
RESIZE_CONFIRMING: Final = "resize_confirming"
IMAGE_SNAPSHOT: Final = "image_snapshot"
IMAGE_SNAPSHOT_PENDING: Final = "image_snapshot_pending"
IMAGE_PENDING_UPLOAD: Final = "image_pending_upload"
IMAGE_UPLOADING: Final = "image_uploading"
SHELVING: Final = "shelving"
SHELVING_IMAGE_PENDING_UPLOAD: Final = "shelving_image_pending_upload"
SHELVING_IMAGE_UPLOADING: Final = "shelving_image_uploading"
SHELVING_OFFLOADING: Final = "shelving_offloading"
UNSHELVING: Final = "unshelving"
RESCUING: Final = "rescuing"
UNRESCUING: Final = "unrescuing"
DELETING: Final = "deleting"
SOFT_DELETING: Final = "soft-deleting"
RESTORING: Final = "restoring"
IMAGE_BACKUP: Final = "image_backup"

# --- power_state (libvirt-independent numbers, as Nova reports them) ----------
NOSTATE: Final = 0
RUNNING: Final = 1
PAUSED_POWER: Final = 3
SHUTDOWN: Final = 4
CRASHED: Final = 6
SUSPENDED_POWER: Final = 7

POWER_STATE_NAMES: Final = {
    NOSTATE: "NOSTATE",
    RUNNING: "Running",
    PAUSED_POWER: "Paused",
    SHUTDOWN: "Shutdown",
    CRASHED: "Crashed",
    SUSPENDED_POWER: "Suspended",
}

# vm_state -> status, refined by task_state (Nova's api/openstack/common.py table).
_STATUS: Final[dict[str, dict[str | None, str]]] = {
    BUILDING: {"default": "BUILD"},
    STOPPED: {
        "default": "SHUTOFF",
        RESIZE_PREP: "RESIZE",
        RESIZE_MIGRATING: "RESIZE",
        RESIZE_MIGRATED: "RESIZE",
        RESIZE_FINISH: "RESIZE",
        REBUILDING: "REBUILD",
        REBUILD_SPAWNING: "REBUILD",
    },
    ACTIVE: {
        "default": "ACTIVE",
        REBOOTING: "REBOOT",
        REBOOT_PENDING: "REBOOT",
        REBOOT_STARTED: "REBOOT",
        REBOOTING_HARD: "HARD_REBOOT",
        REBOOT_PENDING_HARD: "HARD_REBOOT",
        REBOOT_STARTED_HARD: "HARD_REBOOT",
        RESIZE_PREP: "RESIZE",
        RESIZE_MIGRATING: "RESIZE",
        RESIZE_MIGRATED: "RESIZE",
        RESIZE_FINISH: "RESIZE",
        REBUILDING: "REBUILD",
        REBUILD_SPAWNING: "REBUILD",
    },
    RESIZED: {"default": "VERIFY_RESIZE", RESIZE_REVERTING: "REVERT_RESIZE"},
    PAUSED: {
        "default": "PAUSED",
        REBOOTING: "REBOOT",
        REBOOTING_HARD: "HARD_REBOOT",
        REBOOT_PENDING_HARD: "HARD_REBOOT",
        REBOOT_STARTED_HARD: "HARD_REBOOT",
    },
    SUSPENDED: {
        "default": "SUSPENDED",
        REBOOTING_HARD: "HARD_REBOOT",
        REBOOT_PENDING_HARD: "HARD_REBOOT",
        REBOOT_STARTED_HARD: "HARD_REBOOT",
    },
    RESCUED: {"default": "RESCUE"},
    ERROR: {"default": "ERROR", REBUILDING: "REBUILD", REBUILD_SPAWNING: "REBUILD"},
    DELETED: {"default": "DELETED"},
    SOFT_DELETED: {"default": "SOFT_DELETED"},
    SHELVED: {"default": "SHELVED"},
    SHELVED_OFFLOADED: {"default": "SHELVED_OFFLOADED"},
}


def status(vm_state: str, task_state: str | None) -> str:
    """The API status of an instance ("ACTIVE", "BUILD", "VERIFY_RESIZE"...)."""
    table = _STATUS.get(vm_state)
    if table is None:
        return "UNKNOWN"
    return table.get(task_state, table["default"])


# What the API accepts for a status filter maps back to vm_states (Nova's reverse map).
def vm_states_for_status(name: str) -> list[str]:
    name = name.upper()
    return [vm for vm, table in _STATUS.items() if table["default"] == name]


# An ALLOWED entry for an action that may run whatever the vm_state.
ANY_STATE: Final[tuple[str, ...]] = ()

# Action name -> vm_states it may run in (task_state must be None unless listed). Every
# name the API checks must be here: an action without an entry runs in no state
# (compute/actions.py:allowed_vm_states fails closed; tests/compute/api/
# test_action_rules.py walks every action of the API).
ALLOWED: Final[dict[str, tuple[str, ...]]] = {
    "reboot": (ACTIVE, STOPPED, PAUSED, SUSPENDED, ERROR),  # SOFT only from ACTIVE
    "stop": (ACTIVE, ERROR),
    "start": (STOPPED,),
    "pause": (ACTIVE,),
    "unpause": (PAUSED,),
    "suspend": (ACTIVE,),
    "resume": (SUSPENDED,),
    "rebuild": (ACTIVE, STOPPED, ERROR),
    "resize": (ACTIVE, STOPPED),
    "confirmResize": (RESIZED,),
    "revertResize": (RESIZED,),
    "createImage": (ACTIVE, STOPPED, PAUSED, SUSPENDED),
    "shelve": (ACTIVE, STOPPED, PAUSED, SUSPENDED),
    "shelveOffload": (SHELVED,),
    "unshelve": (SHELVED, SHELVED_OFFLOADED),
    "rescue": (ACTIVE, STOPPED, ERROR),
    "unrescue": (RESCUED,),
    "lock": ANY_STATE,
    "unlock": ANY_STATE,
    "os-getConsoleOutput": ANY_STATE,
    "delete": ANY_STATE,
    # Where a DELETE waits compute.reclaim_instance_interval (elsewhere it deletes at
    # once); restore undoes it; forceDelete deletes now, whatever the vm_state.
    "softDelete": (ACTIVE, STOPPED, PAUSED, SUSPENDED, ERROR),
    "restore": (SOFT_DELETED,),
    "forceDelete": ANY_STATE,
    "createBackup": (ACTIVE, STOPPED, PAUSED, SUSPENDED),
}
