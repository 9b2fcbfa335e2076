"""Host-side virtualization plumbing shared by the compute service and the tests.

`daemon.py` brings up libvirtd (and virtlogd) on hosts without systemd. Domain XML and the
libvirt driver live elsewhere; nothing here touches the database.
"""
