"""GET /limits: the sample's shape per microversion, limits and used counts of the
caller's project, ?tenant_id= for admins only."""

from __future__ import annotations

import json
from pathlib import Path

from tests.compute.api.quota_helpers import new_member, req, set_quota
from tests.compute.api.servers_helpers import Srv, srv_fixture

__all__ = ["srv_fixture"]

SAMPLE = Path("/work/shared/api-samples/compute/limits.json")


def test_shape_matches_sample(srv: Srv) -> None:
    m = new_member(srv)
    r = req(srv, "GET", "/limits", m.headers)
    assert r.status_code == 200, r.text
    sample = json.loads(SAMPLE.read_text())["response_body"]["limits"]
    assert r.json()["limits"]["rate"] == []
    assert set(r.json()["limits"]["absolute"]) == set(sample["absolute"])


def test_microversions_drop_fields(srv: Srv) -> None:
    m = new_member(srv)
    a36 = req(srv, "GET", "/limits", m.headers, "2.36").json()["limits"]["absolute"]
    assert "maxSecurityGroups" not in a36 and "maxImageMeta" in a36
    a57 = req(srv, "GET", "/limits", m.headers, "2.57").json()["limits"]["absolute"]
    assert "maxImageMeta" not in a57 and "maxPersonality" not in a57
    assert {"maxTotalInstances", "totalInstancesUsed", "maxServerGroupMembers"} <= set(a57)
    r = req(srv, "GET", "/limits?bogus=1", m.headers, "2.75")
    assert r.status_code == 400


def test_limits_and_usage(srv: Srv) -> None:
    m = new_member(srv)
    set_quota(srv, m.project_id, instances=4, cores=8, ram=1024, key_pairs=3)
    for _ in range(2):
        assert srv.post(srv.body(), m.headers).status_code == 202
    a = req(srv, "GET", "/limits", m.headers).json()["limits"]["absolute"]
    assert a["maxTotalInstances"] == 4 and a["totalInstancesUsed"] == 2
    assert a["maxTotalCores"] == 8 and a["totalCoresUsed"] == 2
    assert a["maxTotalRAMSize"] == 1024 and a["totalRAMUsed"] == 128
    assert a["maxTotalKeypairs"] == 3 and a["maxServerMeta"] == 128


def test_other_project_is_for_admins(srv: Srv) -> None:
    m, other = new_member(srv), new_member(srv)
    set_quota(srv, other.project_id, instances=7)
    r = req(srv, "GET", f"/limits?tenant_id={other.project_id}", m.headers)
    assert r.status_code == 403
    r = req(srv, "GET", f"/limits?tenant_id={other.project_id}", srv.admin)
    assert r.status_code == 200 and r.json()["limits"]["absolute"]["maxTotalInstances"] == 7
