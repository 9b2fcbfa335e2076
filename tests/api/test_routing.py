"""IndexedRouter: the same matches as a linear scan, literal routes before parameters."""

from __future__ import annotations

from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from stackbox.api.routing import IndexedRouter


class _app:
    def __init__(self, name: str) -> None:
        self.name = name

    async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        params = ",".join(f"{k}={v}" for k, v in sorted(scope.get("path_params", {}).items()))
        await PlainTextResponse(f"{self.name}:{params}")(scope, receive, send)


def test_matching_and_precedence() -> None:
    routes = [
        Route(p, _app(n))
        for n, p in [
            ("root", "/"),
            ("p", "/v3/projects/{pid}"),
            ("tok", "/v3/auth/tokens"),
            ("any", "/v3/{kind}/tokens"),
            ("grant", "/v3/projects/{p}/users/{u}/roles/{r}"),
            ("lead", "/{tenant}/servers"),
        ]
    ]
    router = IndexedRouter(routes, default=PlainTextResponse("none", status_code=404))
    c = TestClient(router)
    assert c.get("/").text == "root:"
    assert c.get("/v3/projects/abc").text == "p:pid=abc"
    assert c.get("/v3/auth/tokens").text == "tok:"
    assert c.get("/v3/other/tokens").text == "any:kind=other"
    assert c.get("/v3/projects/1/users/2/roles/3").text == "grant:p=1,r=3,u=2"
    assert c.get("/t1/servers").text == "lead:tenant=t1"
    assert c.get("/v3/projects/abc/extra").status_code == 404
    assert c.get("/v3/projects").status_code == 404
