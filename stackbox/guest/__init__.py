"""A tiny test guest built on this host from Debian packages, and OpenStack config drives.

* `build.build_test_guest` -- a bootable qcow2 disk plus a kernel/ramdisk pair (for `aki`/
  `ari` images) from Debian's cloud kernel and busybox-static (`debs.py` fetches and
  unpacks the packages, `initramfs.py` writes the busybox initramfs, `init.sh` is its /init).
* `configdrive.make_config_drive` -- an ISO 9660 `config-2` drive in the OpenStack layout,
  also used by the compute service.

Nothing here talks to libvirt or the database; host commands go through
`stackbox.privileged`.
"""
