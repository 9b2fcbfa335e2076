"""Path matching for one service: routes indexed by their segment count and leading
literal segments, so a request is matched against a handful of candidates rather than
every route of the service (Starlette's Router tries them all, in order)."""

from __future__ import annotations

from collections import defaultdict

from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

_DEPTH = 2  # leading literal segments used as the index key


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


def _key(segments: list[str]) -> tuple:
    literal = []
    for seg in segments[:_DEPTH]:
        if "{" in seg:
            break
        literal.append(seg)
    return (len(segments), *literal)


class IndexedRouter:
    """ASGI app dispatching to Starlette `Route`s; `default` answers unmatched paths."""

    def __init__(self, routes: list[Route], default: ASGIApp) -> None:
        self.default = default
        self._index: dict[tuple, list[Route]] = defaultdict(list)
        for route in routes:
            segs = _segments(route.path)
            self._index[_key(segs)].append(route)
        # A request's key may be shorter than a route's (parameters in the leading
        # segments); keep a fallback scan for those.
        self._all = routes

    def _candidates(self, path: str) -> list[Route]:
        segs = _segments(path)
        n = len(segs)
        out: list[Route] = []
        for depth in range(min(_DEPTH, n), -1, -1):
            out.extend(self._index.get((n, *segs[:depth]), ()))
        return out

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        root = scope.get("root_path", "")
        path = scope["path"][len(root) :] if scope["path"].startswith(root) else scope["path"]
        for route in self._candidates(path):
            match, child = route.matches(scope)
            if match is Match.FULL:
                scope.update(child)
                await route.handle(scope, receive, send)
                return
        await self.default(scope, receive, send)
