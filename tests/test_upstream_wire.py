"""The upstream connection at the wire (gated.providers.transport): keep-alive reuse, upstreams
that close idle connections, chunked, compressed and close-delimited replies, replies that are
not HTTP, SSE split anywhere, a stalled stream, and a large stream to a slow client. The upstream
is a raw TCP server (its own thread and loop) so each test can answer byte by byte."""

from __future__ import annotations

import asyncio
import datetime
import gzip
import ipaddress
import json
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Iterator

import httpx
import openai
import pytest

from tests.support.gated import MASTER_KEY, upstream_config

AUTH = {"Authorization": f"Bearer {MASTER_KEY}"}
Script = Callable[["Exchange"], Awaitable[None]]


def completion(content: str = "hello") -> bytes:
    return json.dumps({"id": "chatcmpl-w", "object": "chat.completion", "created": 1, "model": "m",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                    "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}).encode()


def chunk(content: str) -> bytes:
    return json.dumps({"id": "chatcmpl-w", "object": "chat.completion.chunk", "created": 1, "model": "m",
                       "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}]}).encode()


class Exchange:
    """One request read off a connection; the script writes the raw reply."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, connection: int,
                 body: bytes) -> None:
        self.reader, self.writer, self.connection, self.body = reader, writer, connection, body

    async def reply(self, status: int, body: bytes, *headers: str) -> None:
        head = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", "Content-Type: application/json", *headers]
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await self.writer.drain()


class RawUpstream:
    def __init__(self, script: Script, tls: ssl.SSLContext | None = None) -> None:
        self.script, self.tls = script, tls
        self.connections = 0
        self.requests = 0
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        assert ready.wait(10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls))
        self.port = self.server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        connection = self.connections
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                body = await reader.readexactly(length)
                self.requests += 1
                await self.script(Exchange(reader, writer, connection, body))
                if writer.is_closing():
                    return
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    @property
    def base(self) -> str:
        return f"{'https' if self.tls else 'http'}://{'localhost' if self.tls else '127.0.0.1'}:{self.port}/v1"

    def stop(self) -> None:
        async def shutdown() -> None:
            self.server.close()
            tasks = asyncio.all_tasks() - {asyncio.current_task()}
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.sleep(0.05)   # the closed transports finish closing

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def raw() -> Iterator[Callable[..., RawUpstream]]:
    servers: list[RawUpstream] = []

    def start(script: Script, tls: ssl.SSLContext | None = None) -> RawUpstream:
        servers.append(RawUpstream(script, tls))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def gated_for(gated, server: RawUpstream, env: dict[str, str] | None = None, **params):
    config = upstream_config(server.base, {"g": ["m"]}, num_retries=0)
    config["model_list"][0]["litellm_params"].update(params)
    return gated(config, env=env)


def chat(instance, **extra) -> httpx.Response:
    return httpx.post(instance.url + "/v1/chat/completions", headers=AUTH, timeout=15,
                      json={"model": "g", "messages": [{"role": "user", "content": "hi"}], **extra})


def test_one_keep_alive_connection_carries_sequential_requests(gated, raw):
    async def script(ex: Exchange) -> None:
        await ex.reply(200, completion(f"on connection {ex.connection}"))

    server = raw(script)
    instance = gated_for(gated, server)
    answers = [chat(instance) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    assert {a.json()["choices"][0]["message"]["content"] for a in answers} == {"on connection 1"}
    assert server.connections == 1 and server.requests == 5


def test_requests_sent_while_others_await_replies_each_get_their_own_answer(gated, raw):
    """While requests are in flight, gated sends new ones at the end of the event loop's turn,
    together. Each still reaches the upstream once and gets its own answer, and one that times
    out among them (the upstream never answers it) fails alone."""
    async def script(ex: Exchange) -> None:
        content = json.loads(ex.body)["messages"][0]["content"]
        if content == "never":
            await asyncio.sleep(5)
            return
        if content.isdigit():
            await asyncio.sleep(0.01 * (int(content) % 5))   # replies out of order
        await ex.reply(200, completion(f"answer to {content}"))

    server = raw(script)
    instance = gated_for(gated, server, timeout=1)

    async def ask(content: str) -> httpx.Response:
        async with httpx.AsyncClient(timeout=15) as client:
            return await client.post(instance.url + "/v1/chat/completions", headers=AUTH, json={
                "model": "g", "messages": [{"role": "user", "content": content}]})

    async def burst() -> list[httpx.Response]:
        return await asyncio.gather(ask("never"), *(ask(str(i)) for i in range(30)))

    stalled, *answers = asyncio.run(burst())
    assert stalled.status_code == 504 and stalled.json()["error"]["code"] == "upstream_timeout"
    assert [a.json()["choices"][0]["message"]["content"] for a in answers] == [f"answer to {i}" for i in range(30)]
    assert server.requests == 31
    assert chat(instance).status_code == 200, "the pool is usable after the burst"
    assert sorted(r["status"] for r in instance.wait_rows(32)) == ["error"] + ["success"] * 31


def test_an_upstream_that_closes_idle_connections_costs_no_request(gated, raw):
    """Like a server with a short keep-alive timeout: each connection is closed soon after its
    reply, without a `Connection: close`. The next request goes out on a new connection."""
    async def script(ex: Exchange) -> None:
        await ex.reply(200, completion())
        await asyncio.sleep(0.05)
        ex.writer.close()

    server = raw(script)
    instance = gated_for(gated, server)
    for _ in range(3):
        assert chat(instance).status_code == 200
        time.sleep(0.2)
    assert server.connections == 3 and server.requests == 3
    assert [r["status"] for r in instance.wait_rows(3)] == ["success"] * 3


def test_a_connection_dropped_as_the_request_is_sent_is_retried_once_on_a_new_one(gated, raw):
    """The race a keep-alive client cannot avoid: the upstream drops a reused connection at the
    moment gated sends on it. Nothing was answered, so gated sends again on a fresh connection."""
    async def script(ex: Exchange) -> None:
        if ex.connection == 1 and server.requests == 2:
            ex.writer.close()           # the second request, on the reused connection: dropped unanswered
            return
        await ex.reply(200, completion(f"c{ex.connection}"))

    server = raw(script)
    instance = gated_for(gated, server)
    assert chat(instance).json()["choices"][0]["message"]["content"] == "c1"
    second = chat(instance)
    assert second.status_code == 200 and second.json()["choices"][0]["message"]["content"] == "c2"
    assert server.requests == 3 and server.connections == 2


def test_a_reply_cut_off_after_it_began_is_a_502_not_a_resend(gated, raw):
    async def script(ex: Exchange) -> None:
        ex.writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{\"id\":")
        await ex.writer.drain()
        ex.writer.close()

    server = raw(script)
    instance = gated_for(gated, server)
    answer = chat(instance)
    assert answer.status_code == 502 and answer.json()["error"]["code"] == "upstream_error"
    assert server.requests == 1, "part of a reply arrived: the upstream may have acted on it"
    assert instance.wait_rows(1)[0]["status"] == "error"


@pytest.mark.parametrize("framing", ["chunked", "gzip", "deflate", "until-close", "interim-100"])
def test_replies_framed_or_encoded_any_standard_way_arrive_whole(gated, raw, framing):
    body = completion("x" * 3000)

    async def script(ex: Exchange) -> None:
        w = ex.writer
        if framing == "chunked":
            w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n")
            for i in range(0, len(body), 700):
                piece = body[i:i + 700]
                w.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                await w.drain()
            w.write(b"0\r\n\r\n")
        elif framing in ("gzip", "deflate"):
            import zlib
            packed = gzip.compress(body) if framing == "gzip" else zlib.compress(body)
            await ex.reply(200, packed, f"Content-Encoding: {framing}")
        elif framing == "interim-100":
            w.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            await w.drain()
            await ex.reply(200, body)
        else:
            w.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n" + body)
            await w.drain()
            w.close()
        await w.drain()

    server = raw(script)
    instance = gated_for(gated, server)
    client = openai.OpenAI(base_url=instance.url + "/v1", api_key=MASTER_KEY, max_retries=0)
    for _ in range(2):   # the second on a reused connection (or a new one after the close)
        reply = client.chat.completions.create(model="g", messages=[{"role": "user", "content": "hi"}])
        assert reply.choices[0].message.content == "x" * 3000 and reply.usage.total_tokens == 5
    assert server.connections == (2 if framing == "until-close" else 1)


def test_a_large_whole_reply_is_read_to_its_end(gated, raw):
    """Several MB in one JSON body (embeddings of a big batch, say): read whole, nothing paused."""
    vectors = [{"object": "embedding", "index": i, "embedding": [0.001 * i] * 256} for i in range(1500)]
    body = json.dumps({"object": "list", "data": vectors, "model": "m",
                       "usage": {"prompt_tokens": 1500, "total_tokens": 1500}}).encode()
    assert len(body) > 2_000_000

    async def script(ex: Exchange) -> None:
        await ex.reply(200, body)

    instance = gated_for(gated, raw(script))
    answer = httpx.post(instance.url + "/v1/embeddings", headers=AUTH, timeout=30,
                        json={"model": "g", "input": ["x"] * 1500})
    assert answer.status_code == 200 and len(answer.json()["data"]) == 1500
    assert answer.json()["data"][-1]["embedding"][0] == pytest.approx(1.499)


@pytest.mark.parametrize("garbage", [b"SSH-2.0-OpenSSH_9.2\r\n", b"HTTP/1.1 abc\r\n\r\n", b"\x00\x01\x02" * 20])
def test_a_reply_that_is_not_http_is_a_502(gated, raw, garbage):
    async def script(ex: Exchange) -> None:
        ex.writer.write(garbage)
        await ex.writer.drain()
        await asyncio.sleep(0.2)
        ex.writer.close()

    instance = gated_for(gated, raw(script))
    answer = chat(instance)
    assert answer.status_code == 502
    assert answer.json()["error"]["code"] == "upstream_error"


def sse_head() -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


def http_chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def test_sse_split_anywhere_with_crlf_arrives_as_the_same_events(gated, raw):
    words = ["Never ", "split ", "an ", "event ", "twice"]
    wire = b"".join(b"data: " + chunk(w) + b"\r\n\r\n" for w in words) + b"data: [DONE]\r\n\r\n"

    async def script(ex: Exchange) -> None:
        ex.writer.write(sse_head())
        for i in range(0, len(wire), 7):        # 7-byte pieces: events, CRLFs and JSON all cut
            ex.writer.write(http_chunk(wire[i:i + 7]))
            await ex.writer.drain()
            await asyncio.sleep(0.001)
        ex.writer.write(b"0\r\n\r\n")
        await ex.writer.drain()

    instance = gated_for(gated, raw(script))
    client = openai.OpenAI(base_url=instance.url + "/v1", api_key=MASTER_KEY, max_retries=0)
    stream = client.chat.completions.create(model="g", stream=True, messages=[{"role": "user", "content": "hi"}])
    assert [c.choices[0].delta.content for c in stream if c.choices] == words


def test_sse_comments_event_names_and_multi_line_data_reach_the_client_as_plain_data_events(gated, raw):
    """Blocks of one-line `data:` events are relayed as they came; any other block is re-written
    with data lines only (comments and event names dropped), a multi-line payload kept whole."""
    multi = json.dumps(json.loads(chunk("two ")), indent=1).encode()   # JSON spread over lines
    wire = (b"data: " + chunk("one ") + b"\n\n"
            + b": keep-alive\n\n"
            + b"event: message\ndata: " + multi.replace(b"\n", b"\ndata: ") + b"\n\n"
            + b"data: " + chunk("three") + b"\n\ndata: [DONE]\n\n")

    async def script(ex: Exchange) -> None:
        ex.writer.write(sse_head())
        for piece in wire.split(b"\n\n")[:-1]:     # one event per read
            ex.writer.write(http_chunk(piece + b"\n\n"))
            await ex.writer.drain()
            await asyncio.sleep(0.01)
        ex.writer.write(b"0\r\n\r\n")
        await ex.writer.drain()

    instance = gated_for(gated, raw(script))
    with httpx.stream("POST", instance.url + "/v1/chat/completions", headers=AUTH, timeout=10,
                      json={"model": "g", "stream": True, "messages": [{"role": "user", "content": "hi"}]}) as r:
        body = r.read().decode()
    events = [e.split("\n") for e in body.split("\n\n") if e]
    assert all(line.startswith("data: ") for lines in events for line in lines), "only data lines: " + body
    payloads = ["\n".join(line[6:] for line in lines) for lines in events]
    assert [json.loads(p)["choices"][0]["delta"]["content"] for p in payloads[:-1]] == ["one ", "two ", "three"]
    assert payloads[-1] == "[DONE]"


def test_a_stream_that_stalls_past_the_deployment_timeout_ends_with_an_error_event(gated, raw):
    async def script(ex: Exchange) -> None:
        ex.writer.write(sse_head() + http_chunk(b"data: " + chunk("first ") + b"\n\n"))
        await ex.writer.drain()
        await asyncio.sleep(5)

    instance = gated_for(gated, raw(script), timeout=0.5)
    started = time.monotonic()
    with httpx.stream("POST", instance.url + "/v1/chat/completions", headers=AUTH, timeout=10,
                      json={"model": "g", "stream": True, "messages": [{"role": "user", "content": "hi"}]}) as r:
        events = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert time.monotonic() - started < 3
    assert json.loads(events[0])["choices"][0]["delta"]["content"] == "first "
    assert json.loads(events[-1])["error"]["code"] == "upstream_timeout" and "[DONE]" not in events
    assert instance.wait_rows(1)[0]["error_code"] == "upstream_timeout"


def test_a_large_stream_reaches_a_slow_client_whole_and_in_order(gated, raw):
    """3 MB of events while the client does not read for a second: gated stops reading the upstream
    when its buffer is full and resumes when the client catches up; nothing is dropped."""
    count = 3000
    events = [b"data: " + chunk(f"{i:05d}" + "y" * 1000) + b"\n\n" for i in range(count)]

    async def script(ex: Exchange) -> None:
        ex.writer.write(sse_head())
        for event in events:
            ex.writer.write(http_chunk(event))
        ex.writer.write(http_chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
        await ex.writer.drain()

    instance = gated_for(gated, raw(script))
    with httpx.stream("POST", instance.url + "/v1/chat/completions", headers=AUTH, timeout=30,
                      json={"model": "g", "stream": True, "messages": [{"role": "user", "content": "hi"}]}) as r:
        time.sleep(1.0)
        got = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert got[-1] == "[DONE]" and len(got) == count + 1
    assert [json.loads(e)["choices"][0]["delta"]["content"][:5] for e in got[:-1]] == [f"{i:05d}" for i in range(count)]


def self_signed(tmp_path) -> tuple[str, ssl.SSLContext]:
    """A certificate for localhost (and 127.0.0.1): its PEM path, and a server context with it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return str(cert_path), context


def test_an_https_upstream_is_verified_against_the_trusted_certificates(gated, raw, tmp_path):
    """TLS with the name checked: trusted (SSL_CERT_FILE names the CA) it answers, and the keep-alive
    connection is reused; an upstream whose certificate is not trusted is a 502, never unverified."""
    async def script(ex: Exchange) -> None:
        await ex.reply(200, completion("over tls"))

    cert, context = self_signed(tmp_path)
    server = raw(script, context)
    trusted = gated_for(gated, server, env={"SSL_CERT_FILE": cert})
    for _ in range(2):
        answer = chat(trusted)
        assert answer.status_code == 200 and answer.json()["choices"][0]["message"]["content"] == "over tls"
    assert server.connections == 1 and server.requests == 2
    untrusted = gated_for(gated, server)
    refused = chat(untrusted)
    assert refused.status_code == 502 and refused.json()["error"]["code"] == "upstream_error"
    assert server.requests == 2, "nothing was sent over the unverified connection"
