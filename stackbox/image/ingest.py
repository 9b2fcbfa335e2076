"""Receiving image data: blocks are written to a pending file while MD5 and SHA-512 are
computed, each in its own thread, in parallel with the event loop receiving the next
bytes. hashlib and file writes release the GIL on large buffers, so the three run on
separate cores.

The received chunks themselves (no copies) go to the workers in blocks of about
BLOCK bytes; an upload holds at most `depth` blocks in flight, so memory stays bounded
whatever the client's speed.

No HTTP and no database here: the upload handlers feed chunks and read the result.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

import anyio.to_thread

from stackbox.image.store import PendingFile

BLOCK = 4 << 20  # bytes handed to the worker threads at a time


@dataclass(frozen=True)
class Digest:
    size: int
    checksum: str  # md5 hex
    os_hash_value: str  # sha512 hex
    os_hash_algo: str = "sha512"


class _Block:
    """Received chunks on their way through the stages, holding one of the upload's
    `depth` tokens; the last stage done with them returns the token."""

    __slots__ = ("chunks", "free", "lock", "refs", "token")

    def __init__(self, chunks: list[bytes], token: int, refs: int, free: queue.Queue) -> None:
        self.chunks, self.token, self.refs, self.free = chunks, token, refs, free
        self.lock = threading.Lock()

    def release(self) -> None:
        with self.lock:
            self.refs -= 1
            last = self.refs == 0
        if last:
            self.chunks = []
            self.free.put(self.token)


class _Stage(threading.Thread):
    """One worker: applies `fn` to every block from its queue until a None."""

    def __init__(self, fn: Callable[[bytes], object]) -> None:
        super().__init__(daemon=True)
        self.fn = fn
        self.q: queue.SimpleQueue[_Block | None] = queue.SimpleQueue()
        self.error: BaseException | None = None
        self.cancelled = False

    def run(self) -> None:
        while True:
            block = self.q.get()
            if block is None:
                return
            try:
                if self.error is None and not self.cancelled:
                    for chunk in block.chunks:
                        self.fn(chunk)
            except BaseException as exc:  # reported by feed()/finish()
                self.error = exc
            finally:
                block.release()


def _write_all(fh: object) -> Callable[[bytes], None]:
    write = fh.write  # type: ignore[attr-defined]

    def write_all(data: bytes) -> None:
        mv = memoryview(data)
        while mv:
            mv = mv[write(mv) :]

    return write_all


class Ingest:
    """Feed chunks with `await feed(b)`; `await finish()` returns the digest;
    `await abort()` stops the workers and removes the pending file."""

    def __init__(self, pending: PendingFile, depth: int = 4) -> None:
        self.pending = pending
        self.size = 0
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha = hashlib.sha512()
        self._free: queue.Queue[int] = queue.Queue()
        self._allocated, self._depth = 0, depth
        self._cur: list[bytes] = []
        self._cur_n = 0
        self._stages = [
            _Stage(self._md5.update),
            _Stage(self._sha.update),
            _Stage(_write_all(pending.fh)),
        ]
        for st in self._stages:
            st.start()
        self._closed = False

    def _check(self) -> None:
        for st in self._stages:
            if st.error is not None:
                raise st.error

    async def _token(self) -> int:
        try:
            return self._free.get_nowait()
        except queue.Empty:
            pass
        if self._allocated < self._depth:
            self._allocated += 1
            return self._allocated
        return await anyio.to_thread.run_sync(self._free.get)

    async def feed(self, chunk: bytes) -> None:
        """Add received bytes; every BLOCK bytes go to the workers (the chunks
        themselves, not a copy)."""
        if not chunk:
            return
        self.size += len(chunk)
        self._cur.append(chunk)
        self._cur_n += len(chunk)
        if self._cur_n >= BLOCK:
            await self._dispatch()

    async def _dispatch(self) -> None:
        self._check()
        block = _Block(self._cur, await self._token(), len(self._stages), self._free)
        self._cur, self._cur_n = [], 0
        for st in self._stages:
            st.q.put(block)

    async def finish(self) -> Digest:
        """Wait for every block to be hashed and written, then fsync."""
        if self._cur:
            await self._dispatch()
        await self._stop()
        self._check()
        await anyio.to_thread.run_sync(self.pending.sync)
        return Digest(self.size, self._md5.hexdigest(), self._sha.hexdigest())

    async def _stop(self) -> None:
        if self._closed:
            return
        self._closed = True
        for st in self._stages:
            st.q.put(None)
        for st in self._stages:
            await anyio.to_thread.run_sync(st.join)

    async def abort(self) -> None:
        """Stop the workers and drop the pending file."""
        for st in self._stages:
            st.cancelled = True
        self._cur = []
        await self._stop()
        await anyio.to_thread.run_sync(self.pending.discard)
