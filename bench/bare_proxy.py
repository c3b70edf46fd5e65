"""A bare aiohttp pass-through, the yardstick of SPEC §12 ("a bare aiohttp pass-through costs about
160 µs"), measured by `make bench` in the same run as gated so gated's CPU can be read as a ratio.

Every POST is forwarded to the upstream with one long-lived ClientSession; the answer is relayed
as is (a streamed one chunk by chunk). No auth, no logging, no parsing: the least an aiohttp proxy
does. Plain asyncio event loop (aiohttp's default), one process.

    python bench/bare_proxy.py --port 9003 --upstream http://127.0.0.1:9001/v1
"""

from __future__ import annotations

import argparse

import aiohttp
from aiohttp import web

SESSION = web.AppKey("session", aiohttp.ClientSession)


def make_app(upstream: str) -> web.Application:
    async def session_ctx(app: web.Application):  # type: ignore[no-untyped-def]
        app[SESSION] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        yield
        await app[SESSION].close()

    async def forward(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {"Content-Type": "application/json", "Authorization": request.headers.get("Authorization", "")}
        async with request.app[SESSION].post(f"{upstream}/chat/completions", data=body, headers=headers) as up:
            if up.content_type != "text/event-stream":
                return web.Response(body=await up.read(), status=up.status, content_type=up.content_type)
            response = web.StreamResponse(status=up.status, headers={"Content-Type": "text/event-stream"})
            await response.prepare(request)
            async for chunk in up.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    async def health(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.cleanup_ctx.append(session_ctx)
    app.router.add_post("/v1/chat/completions", forward)
    app.router.add_get("/health", health)
    return app


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream", required=True, help="the upstream's base URL, e.g. http://127.0.0.1:9001/v1")
    args = p.parse_args()
    web.run_app(make_app(args.upstream.rstrip("/")), host=args.host, port=args.port, access_log=None,
                print=None)


if __name__ == "__main__":
    main()
