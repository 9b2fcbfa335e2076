"""Service processes: the registry of running services (heartbeats, up/down) and the
runner that hosts one role (conductor, scheduler, compute...) on the message bus."""
