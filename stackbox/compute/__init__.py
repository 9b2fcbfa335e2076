"""The compute service: runs instances on this host (image cache, virt driver, manager)."""
