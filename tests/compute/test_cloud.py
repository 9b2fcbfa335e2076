"""compute/cloud.py: the cloud's id made once per database (by the migration, or on first
use), and the domain names made from it, old rows keeping theirs."""

from __future__ import annotations

import pytest
from sqlalchemy import delete

from stackbox.compute import cloud
from stackbox.compute.cloud import CloudRef, domain_name
from stackbox.compute.models import CloudRecord
from stackbox.db import Database

REF = CloudRef("c0ffee11" + "0" * 24, legacy_names_upto=5)


def test_default_template_names_new_instances_by_cloud_and_old_ones_as_before() -> None:
    assert domain_name(cloud.DEFAULT_TEMPLATE, 6, REF) == "sbx-c0ffee11-00000006"
    assert domain_name(cloud.DEFAULT_TEMPLATE, 5, REF) == "instance-00000005"
    other = CloudRef("deadbeef" + "0" * 24)
    assert domain_name(cloud.DEFAULT_TEMPLATE, 6, other) == "sbx-deadbeef-00000006"


def test_an_explicit_template_names_every_instance_as_it_did() -> None:
    assert domain_name("cloud2-%06d", 3, REF) == "cloud2-000003"
    assert domain_name("instance-%08x", 6) == "instance-00000006"


def test_bad_templates_are_refused_early() -> None:
    with pytest.raises(ValueError, match="must take one integer"):
        cloud.check_template("sbx-{cloud}")
    with pytest.raises(ValueError, match="needs the cloud id"):
        domain_name(cloud.DEFAULT_TEMPLATE, 1)
    cloud.check_template(cloud.DEFAULT_TEMPLATE)


def test_the_migration_made_the_id_and_it_stays(sqlite_db: Database) -> None:
    with sqlite_db.session() as s:
        first = cloud.load_or_create(s)
    with sqlite_db.session() as s:
        assert cloud.load_or_create(s) == first
        assert cloud.known(s) == (first.cloud_id, frozenset())
    assert len(first.cloud_id) == 32 and first.legacy_names_upto == 0


def test_a_database_without_the_row_gets_one_with_its_rows_as_legacy(
    sqlite_db: Database,
) -> None:
    with sqlite_db.session() as s:
        old = cloud.load_or_create(s)
        s.execute(delete(CloudRecord))
    with sqlite_db.session() as s:
        assert cloud.known(s)[0] is None
        made = cloud.load_or_create(s)
    assert made.cloud_id != old.cloud_id
    with sqlite_db.session() as s:
        assert cloud.instance_name(s, cloud.DEFAULT_TEMPLATE, 1) == f"sbx-{made.short}-00000001"
