"""A small TCP proxy that fails on command, for tests of what a server does when a dependency
fails: point the server's database (or Redis) URL at the proxy, then

- `pass_traffic()`: forward both ways (the start state; also ends a stall or a refusal);
- `refuse()`: stop listening, so new connections are refused (ECONNREFUSED), as when
  the server is stopped; open connections are left alone (`cut()` ends them);
- `cut()`: reset every open connection at once (RST both ways), as a crash or failover does;
- `stall()`: keep every connection open and accept new ones, but forward nothing either
  way until `pass_traffic()`; held bytes are then delivered, as after a network partition.

The proxy runs its own event loop in a thread, so it keeps forwarding while the
test's loop is busy or blocked; each call returns once the new mode is in force.
`accepted`, `open_connections` and `cut_connections` let tests wait on conditions
(e.g. "the server has reconnected") instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

T = TypeVar("T")
CHUNK = 65536
LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


@dataclass(eq=False)
class _Pipe:
    """One client connection and its upstream twin."""

    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def abort(self) -> None:
        for writer in (self.client, self.upstream):
            if writer is not None:
                _reset(writer)

    def close(self) -> None:
        for writer in (self.client, self.upstream):
            if writer is not None:
                writer.close()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST, not FIN: the peer sees the connection reset, as after a crash."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
    writer.transport.abort()


class FaultProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.mode = "pass"
        self.accepted = 0
        self.cut_connections = 0
        self._pipes: set[_Pipe] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._flowing: asyncio.Event | None = None
        self._serving: set[asyncio.Task[None]] = set()

    # --- control (any thread) -----------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._thread.start()
        self._call(self._start())
        return self

    def close(self) -> None:
        if self._thread.is_alive():
            self._call(self._close())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def pass_traffic(self) -> None:
        self._call(self._set_mode("pass"))

    def refuse(self) -> None:
        self._call(self._set_mode("refuse"))

    def stall(self) -> None:
        self._call(self._set_mode("stall"))

    def cut(self) -> int:
        """Reset every open connection; returns how many there were."""
        return self._call(self._cut())

    @property
    def open_connections(self) -> int:
        return len(self._pipes)

    def url_for(self, url: str) -> str:
        """`url` with its host and port replaced by the proxy's (user, password, path kept)."""
        parts = urlsplit(url)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = f"{credentials}@127.0.0.1:{self.port}" if credentials else f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=netloc))

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=30)

    # --- the proxy's own loop -----------------------------------------------------------------

    async def _start(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        await self._listen()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port or 0, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _set_mode(self, mode: str) -> None:
        assert self._flowing is not None
        if mode == "refuse":
            await self._stop_listening()
        elif self._server is None:
            await self._listen()
        if mode == "stall":
            self._flowing.clear()
        else:
            self._flowing.set()
        self.mode = mode

    async def _cut(self) -> int:
        pipes = list(self._pipes)
        for pipe in pipes:
            pipe.abort()
        self.cut_connections += len(pipes)
        return len(pipes)

    async def _close(self) -> None:
        await self._stop_listening()
        await self._cut()
        serving = [task for task in self._serving if not task.done()]
        if serving:  # let each connection's task finish before the loop stops
            await asyncio.wait(serving, timeout=5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._flowing is not None
        self.accepted += 1
        task = asyncio.current_task()
        if task is not None:
            self._serving.add(task)
            task.add_done_callback(self._serving.discard)
        pipe = _Pipe(writer)
        self._pipes.add(pipe)
        try:
            await self._flowing.wait()  # a stalled network: the handshake goes nowhere yet
            up_reader, up_writer = await asyncio.open_connection(*self.target)
            pipe.upstream = up_writer
            pipe.tasks = [
                asyncio.create_task(self._forward(reader, up_writer)),
                asyncio.create_task(self._forward(up_reader, writer)),
            ]
            await asyncio.wait(pipe.tasks, return_when=asyncio.FIRST_COMPLETED)
        except OSError:
            pass
        finally:
            self._pipes.discard(pipe)
            for task in pipe.tasks:
                task.cancel()
            pipe.close()  # one side ended: pass the end on (a cut has already reset both)

    async def _forward(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        assert self._flowing is not None
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await source.read(CHUNK):
                await self._flowing.wait()  # stalled: hold this chunk; the rest stays queued
                sink.write(data)
                await sink.drain()


@contextlib.contextmanager
def fault_proxy(target_host: str, target_port: int) -> Iterator[FaultProxy]:
    """A started proxy in pass mode, closed (every connection reset) on exit."""
    proxy = FaultProxy(target_host, target_port).start()
    try:
        yield proxy
    finally:
        proxy.close()
