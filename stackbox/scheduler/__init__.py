"""The scheduler: host views (hoststate), filters, weighers, atomic claims and the
SchedulerManager that answers `select_destinations` on the bus.

`claims` is pure SQL and is imported by the conductor; the policy modules (filters,
weighers) take data and return data; only `manager` touches the database for views.
"""
