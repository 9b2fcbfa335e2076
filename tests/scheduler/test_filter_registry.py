"""The scheduler's one list of filters names every filter class there is."""

from __future__ import annotations

import importlib
import pkgutil

import stackbox.scheduler
from stackbox import config
from stackbox.scheduler import filter_registry
from stackbox.scheduler.filters import BaseFilter


def _subclasses(cls: type) -> set[type]:
    out = set()
    for sub in cls.__subclasses__():
        out |= {sub, *_subclasses(sub)}
    return out


def test_every_filter_class_is_listed_by_its_name() -> None:
    for mod in pkgutil.iter_modules(stackbox.scheduler.__path__):
        if mod.name.startswith("filters"):
            importlib.import_module(f"stackbox.scheduler.{mod.name}")
    concrete = {c for c in _subclasses(BaseFilter) if c.__module__.startswith("stackbox.")}
    assert concrete == set(filter_registry.FILTERS.values())
    assert all(filter_registry.FILTERS[c.name] is c for c in concrete)


def test_default_enabled_filters_all_load() -> None:

    names = config.load(env={}).get("scheduler", "enabled_filters")
    loaded = filter_registry.load_filters(names)
    assert [f.name for f in loaded] == [n.strip() for n in names.split(",") if n.strip()]
