"""What image data really is, and whether it is safe to hand to QEMU: the format checks
Glance makes when it receives data (upload, import) and Nova makes before it boots an
image, on oslo.utils' format inspector (the parser both of them use).

The inspector reads only the headers and descriptors of the file itself, never a file
they name, so an image cannot make the host read anything else while it is inspected.
Unsafe are: a qcow2 with a backing file or an external data file, a VMDK whose extents
are elsewhere (monolithicFlat, a sparse VMDK naming another file) or whose subformat is
not a single-file one, a QED image, a GPT disk whose protective MBR is malformed, and
data that is two formats at once (an ISO with a qcow2 header in its system area; an
ISO with a GPT in front is a bootable ISO and stays an ISO).

`check_received` applies Glance's rules (`glance/location.py` `set_data`) and returns
the virtual size; `check_bootable` applies Nova's (`nova/virt/images.py`
`do_image_deep_inspection`) and returns the format QEMU must read the file as. Both
raise `Unacceptable` with the reason each service gives.

No HTTP, no database, no qemu-img here: callers map `Unacceptable` to their answer.
"""

from __future__ import annotations

import logging
from pathlib import Path

from oslo_utils.imageutils import format_inspector as fi

LOG = logging.getLogger(__name__)

# Formats Glance cannot inspect: data of these is accepted when it is none of the
# inspectable formats, and Nova takes their content as raw.
AMI_FORMATS = ("ami", "aki", "ari")
# disk_format -> the name QEMU reads it by (everything inspected and not listed is
# read under its own name).
QEMU_FORMAT = {"raw": "raw", "iso": "raw", "gpt": "raw", "vhd": "vpc"} | dict.fromkeys(
    AMI_FORMATS, "raw"
)
# Formats whose inspector does not compute a virtual size: the file's size is one.
_SIZE_IS_VIRTUAL = ("raw", "gpt")
_CHUNK = 4096


class Unacceptable(ValueError):
    """The image data may not be used; `str()` is the reason (fit for an API answer)."""


def detect(path: Path) -> fi.FileInspector:
    """The inspector of the one format `path` holds (raw when none matched), read only
    as far as every format's decision needs. An ISO that also looks like a GPT disk is
    an ISO. Raises `fi.ImageFormatError` when the data is several formats at once."""
    with open(path, "rb") as fh:
        wrapper = fi.InspectWrapper(fh)
        try:
            while fh.peek(1):
                wrapper.read(_CHUNK)
                if wrapper.formats:
                    break
        finally:
            wrapper.close()
    try:
        found = wrapper.format
    except fi.ImageFormatError:
        matches = wrapper.formats or []
        if {str(m) for m in matches} == {"iso", "gpt"}:
            return next(m for m in matches if str(m) == "iso")
        raise
    if found is None:  # cannot happen once the wrapper is closed
        raise fi.ImageFormatError("Content does not match any allowed format")
    return found


def check_received(
    path: Path, disk_format: str | None, container_format: str | None, size: int
) -> int | None:
    """Glance's checks of data it receives for an image: the content must be the
    declared `disk_format` (raw may hold anything, a non-inspectable format anything
    that is no inspectable one) and pass the format's safety checks. Returns the
    virtual size (None when unknown). Data in a container other than `bare` is not
    inspected, as in Glance."""
    if container_format not in (None, "bare"):
        return size if disk_format in ("raw", "iso") else None
    try:
        inspector = detect(path)
        found = str(inspector)
        if found == disk_format:
            vsize: int | None = size if found in _SIZE_IS_VIRTUAL else inspector.virtual_size
        elif found == "raw" and disk_format not in fi.ALL_FORMATS:
            vsize = None  # ami, ploop...: nothing to inspect
        elif disk_format == "raw":
            LOG.warning("image data declared raw is %s", found)
            vsize = size
        else:
            raise fi.ImageFormatError(
                f"Image disk_format {disk_format} does not match stream data {found}"
            )
        inspector.safety_check()
    except fi.ImageFormatError as exc:
        raise Unacceptable(str(exc)) from None
    except fi.SafetyCheckFailed as exc:
        LOG.warning("image data (%s) failed safety checks: %s", disk_format, exc)
        raise Unacceptable("Image failed safety checks") from None
    except OSError as exc:
        LOG.error("cannot inspect image data %s: %s", path, exc)
        raise Unacceptable("Image format inspection failed") from None
    return vsize


def check_bootable(path: Path, disk_format: str | None) -> str:
    """Nova's checks before an image becomes a guest's disk: its `disk_format` must be
    one QEMU can use, its content that format (a raw image may be a whole GPT disk; an
    AMI-style image anything) and safe. Returns the format QEMU reads it as."""
    fmt = disk_format or ""
    if fmt not in AMI_FORMATS and fi.get_inspector(fmt) is None:
        raise Unacceptable("Image not in a supported format")
    try:
        inspector = detect(path)
        inspector.safety_check()
        found = str(inspector)
        if fmt == "raw" and found == "gpt":
            pass  # a whole-disk image registered as raw
        elif fmt not in AMI_FORMATS and found != fmt:
            LOG.warning("image %s declared %s is %s", path, fmt, found)
            raise Unacceptable("Image content does not match disk_format")
    except fi.SafetyCheckFailed as exc:
        LOG.warning("image %s failed safety checks: %s", path, exc)
        raise Unacceptable("Image does not pass safety check") from None
    except fi.ImageFormatError:
        raise Unacceptable("Image content does not match disk_format") from None
    except OSError as exc:
        LOG.error("cannot inspect image %s: %s", path, exc)
        raise Unacceptable("Image not in a supported format") from None
    return QEMU_FORMAT.get(fmt, fmt)
