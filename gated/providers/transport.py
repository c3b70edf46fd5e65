"""The HTTP/1.1 client gated's LLM upstreams are called with: keep-alive connections per host,
llhttp (httptools) parsing the replies, one write per request.

Why not aiohttp's ClientSession: on the bench (`make bench`) it costs about 100 µs of CPU per
request, more than the rest of a bare proxy, and SPEC §12 leaves gated 250 µs for everything.
This client does only what an OpenAI-compatible upstream needs: POST a body, read a whole reply or
its chunks as they arrive (with back-pressure), gzip/deflate, TLS. Remote guardrails keep using
the ClientSession."""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

import httptools

from gated.turns import Turns

IDLE_SECONDS = 30.0          # an idle connection older than this is closed instead of reused
MAX_IDLE_PER_HOST = 64
HIGH_WATER = 256 * 1024      # buffered reply bytes at which reading from the upstream pauses


class UpstreamError(OSError):
    """The upstream's connection failed or broke, or its reply is not HTTP."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int
    tls: bool
    path: str             # path and query, as sent on the request line
    host_header: str

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UpstreamError(f"not an http(s) URL: {url!r}")
        tls = parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        default = port == (443 if tls else 80)
        host = parts.hostname
        shown = f"[{host}]" if ":" in host else host
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return cls(host, port, tls, path, shown if default else f"{shown}:{port}")


class Reply:
    """One response: its status, then its body whole (`read`) or in pieces (`next_chunk`). `release`
    hands a fully read keep-alive connection back to the pool and closes any other."""

    __slots__ = ("status", "headers", "_conn", "_parts", "_size", "_done", "_error", "_waiter", "_inflate",
                 "_streaming", "_loop")

    def __init__(self, conn: _Connection) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self._conn: _Connection | None = conn
        self._loop = conn.loop
        self._parts: deque[bytes] = deque()
        self._size = 0
        self._done = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._inflate: zlib._Decompress | None = None
        self._streaming = False     # read by next_chunk(): reading pauses while the consumer lags

    # fed by the connection: _feed for each piece of body the parser finds, then _fed once per read
    def _feed(self, data: bytes) -> None:
        if self._inflate is not None:
            data = self._inflate.decompress(data)
        if data:
            self._parts.append(data)
            self._size += len(data)

    def _fed(self) -> None:
        if self._streaming and self._size > HIGH_WATER and self._conn is not None:
            self._conn.pause()
        self._wake()

    def _finish(self, error: BaseException | None = None) -> None:
        if self._done:
            return
        self._done = True
        if error is None and self._inflate is not None:
            tail = self._inflate.flush()
            if tail:
                self._parts.append(tail)
        self._error = error
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self, deadline: float) -> None:
        self._waiter = waiter = self._loop.create_future()
        try:
            await _until(waiter, deadline)
        finally:
            self._waiter = None

    async def read(self, deadline: float) -> bytes:
        """The whole body; TimeoutError at the deadline (`loop.time()` clock)."""
        while not self._done:
            await self._wait(deadline)
        if self._error is not None:
            raise self._error
        body = b"".join(self._parts)
        self._parts.clear()
        return body

    async def next_chunk(self, read_timeout: float, total_deadline: float) -> bytes | None:
        """All of the body that has arrived, as one piece, once some has; None at its end;
        TimeoutError after `read_timeout` s without data or at the deadline (`loop.time()` clock).
        Reading from the upstream pauses while this reader lags."""
        self._streaming = True
        while not self._parts:
            if self._done:
                if self._error is not None:
                    raise self._error
                return None
            await self._wait(min(self._loop.time() + read_timeout, total_deadline))
        data = self._parts.popleft() if len(self._parts) == 1 else b"".join(self._parts)
        self._parts.clear()
        self._size = 0
        if self._conn is not None:
            self._conn.resume()
        return data

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._done and self._error is None and conn.keep_alive:
            conn.park()
        else:
            conn.close()


async def _until(waiter: asyncio.Future[None], deadline: float) -> None:
    """await waiter, or TimeoutError at the deadline (cheaper than asyncio.timeout: one timer)."""
    timer = waiter.get_loop().call_at(deadline, _expire, waiter)
    try:
        await waiter
    finally:
        timer.cancel()


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class _Connection(asyncio.Protocol):
    def __init__(self, pool: UpstreamPool, key: tuple[str, int, bool], loop: asyncio.AbstractEventLoop) -> None:
        # the loop is kept: asyncio.get_running_loop() costs a getpid() system call on Python 3.11
        self.pool, self.key, self.loop = pool, key, loop
        self.transport: asyncio.Transport | None = None
        self.parser: httptools.HttpResponseParser | None = httptools.HttpResponseParser(self)
        self.reply: Reply | None = None
        self.closed = False
        self.keep_alive = False
        self.idle_since = 0.0
        self.received = False       # any byte of the current reply arrived
        self._framed = False        # the reply has a Content-Length or is chunked (else: read to EOF)
        self._paused = False
        self._interim = False       # inside a 1xx reply
        self._arrived: asyncio.Future[None] | None = None   # the current reply's status and headers

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        reply, parser = self.reply, self.parser
        if reply is None or parser is None:   # bytes nobody asked for, on an idle connection: not reusable
            self.close()
            return
        self.received = True
        try:
            parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(UpstreamError(f"the upstream's reply is not valid HTTP ({exc})"))
            self.close()
            return
        reply._fed()   # one wake-up per read, however many chunks of a chunked body it held

    def eof_received(self) -> bool | None:
        return None   # close the transport; connection_lost settles the reply

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        reply = self.reply
        if reply is not None and not reply._done:
            if reply.status and not self._framed and exc is None:
                reply._finish()       # a reply delimited by the end of the connection
            else:
                self._fail(UpstreamError("the upstream closed the connection"))
        self.pool.forget(self)
        # the parser and the transport refer back to this protocol: dropping them frees a closed
        # connection at once instead of at the next full collection (which, with little garbage
        # per request, comes seldom: closed connections piled up, about 8 kB each)
        self.parser = self.transport = None

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        if self.reply is None:
            return
        key = name.decode("latin-1").lower()
        self.reply.headers[key] = value.decode("latin-1")
        if key in ("content-length", "transfer-encoding"):
            self._framed = True

    def on_headers_complete(self) -> None:
        reply = self.reply
        if reply is None:
            return
        assert self.parser is not None   # called by the parser
        status = self.parser.get_status_code()
        if status < 200:   # an interim 1xx reply: the real one follows on the same connection
            self._interim = True
            reply.headers.clear()
            self._framed = False
            return
        reply.status = status
        encoding = reply.headers.get("content-encoding", "").strip().lower()
        if encoding in ("gzip", "deflate", "x-gzip"):
            reply._inflate = zlib.decompressobj(wbits=47)   # 32 + 15: gzip or zlib header, detected
        if self._arrived is not None and not self._arrived.done():
            self._arrived.set_result(None)

    def on_body(self, body: bytes) -> None:
        if self.reply is not None:
            try:
                self.reply._feed(body)
            except zlib.error:
                self._fail(UpstreamError("the upstream's compressed body is corrupt"))
                self.close()

    def on_message_complete(self) -> None:
        if self._interim:
            self._interim = False
            return
        assert self.parser is not None   # called by the parser
        self.keep_alive = self.parser.should_keep_alive()
        if self.reply is not None:
            self.reply._finish()

    # used by the pool and the reply
    async def exchange(self, data: bytes, deadline: float) -> Reply:
        """Send one request (at the end of this turn when others are in flight: gated.turns);
        return its reply once the status and headers are in."""
        assert self.transport is not None
        self.reply = reply = Reply(self)
        self.received, self._framed, self.keep_alive = False, False, False
        self._arrived = self.loop.create_future()
        try:
            turns = self.pool.turns
            if turns.crowded:
                turns.at_end(self.write, data)
            else:
                self.write(data)
            await _until(self._arrived, deadline)
        except BaseException:
            self.close()
            raise
        finally:
            self._arrived = None
        return reply

    def _fail(self, error: BaseException) -> None:
        if self.reply is not None:
            self.reply._finish(error)
        if self._arrived is not None and not self._arrived.done():
            self._arrived.set_exception(error)

    def write(self, data: bytes) -> None:
        transport = self.transport
        if not self.closed and transport is not None and not transport.is_closing():   # else it failed meanwhile
            transport.write(data)

    def pause(self) -> None:
        if not self._paused and self.transport is not None and not self.closed:
            self._paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self._paused and self.transport is not None and not self.closed:
            self._paused = False
            self.transport.resume_reading()

    def park(self) -> None:
        self.reply = None
        self.resume()
        self.idle_since = time.monotonic()
        self.pool.park(self)

    def close(self) -> None:
        self.reply = None
        if not self.closed and self.transport is not None:
            self.closed = True
            self.transport.close()
        self.pool.forget(self)


class UpstreamPool:
    """Keep-alive connections per (host, port, tls), most recently used first.

    While other LLM requests are in flight, a request is written at the end of the event loop's
    turn, with the others of that turn (gated.turns)."""

    def __init__(self, turns: Turns) -> None:
        self.turns = turns
        self._idle: dict[tuple[str, int, bool], list[_Connection]] = {}
        self._endpoints: dict[str, Endpoint] = {}
        self._tls: ssl.SSLContext | None = None
        self._open: set[_Connection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def clock(self) -> float:
        """The serving loop's time(), the clock of every deadline here."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop.time()

    def endpoint(self, url: str) -> Endpoint:
        found = self._endpoints.get(url)
        if found is None:
            found = self._endpoints[url] = Endpoint.parse(url)
        return found

    @staticmethod
    def header_lines(headers: dict[str, str]) -> str:
        """Headers as request lines, for post(); a value with a line break is refused (it would
        start a header of its own)."""
        for name, value in headers.items():
            if "\n" in value or "\r" in value:
                raise UpstreamError(f"header {name} holds a line break")
        return "".join(f"{name}: {value}\r\n" for name, value in headers.items())

    async def post(self, url: str, header_lines: str, body: bytes, deadline: float) -> Reply:
        """Send the request (`header_lines` from header_lines()); return once the reply's status
        and headers are in, or raise TimeoutError at the deadline (`loop.time()` clock). A reused
        connection the upstream closed before answering is retried once on a new one."""
        where = self.endpoint(url)
        data = (f"POST {where.path} HTTP/1.1\r\nHost: {where.host_header}\r\n{header_lines}"
                f"Content-Length: {len(body)}\r\nAccept-Encoding: gzip, deflate\r\n\r\n").encode("latin-1") + body
        conn = self._take(where)
        if conn is not None:
            try:
                return await conn.exchange(data, deadline)
            except UpstreamError:
                if conn.received:
                    raise
        async with asyncio.timeout_at(deadline):
            conn = await self._connect(where)
        return await conn.exchange(data, deadline)

    def _take(self, where: Endpoint) -> _Connection | None:
        idle = self._idle.get((where.host, where.port, where.tls))
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if not conn.closed and now - conn.idle_since < IDLE_SECONDS:
                return conn
            conn.close()
        return None

    async def _connect(self, where: Endpoint) -> _Connection:
        key = (where.host, where.port, where.tls)
        loop = asyncio.get_running_loop()
        tls = None
        if where.tls:
            if self._tls is None:
                self._tls = ssl.create_default_context()
            tls = self._tls
        _, conn = await loop.create_connection(lambda: _Connection(self, key, loop), where.host, where.port, ssl=tls,
                                               server_hostname=where.host if tls else None)
        self._open.add(conn)
        return conn

    # called by the connections
    def park(self, conn: _Connection) -> None:
        idle = self._idle.setdefault(conn.key, [])
        if len(idle) >= MAX_IDLE_PER_HOST:
            conn.close()
            return
        idle.append(conn)

    def forget(self, conn: _Connection) -> None:
        self._open.discard(conn)
        idle = self._idle.get(conn.key)
        if idle and conn in idle:
            idle.remove(conn)

    def close(self) -> None:
        for conn in list(self._open):
            conn.close()
        self._idle.clear()
