"""The Image service (Glance-compatible API v2): image records, their data files,
members, tags and property protections."""
