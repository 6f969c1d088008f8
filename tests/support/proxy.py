"""A round-robin reverse proxy on 127.0.0.1 (aiohttp, in a thread): Render's balancer in front of several instances.

Every HTTP request goes to the next upstream in turn, and so does every websocket connection (its own turn, so
that the browser's n-th websocket lands on upstream n mod N whatever HTTP came between); nothing is sticky. It
records where each request went (`hits`), so a test can tell which instance served what.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from tests.support.server import free_port

# Hop-by-hop headers (RFC 9110 7.6.1) and what aiohttp sets itself; the Host header is passed on as it came.
_REQUEST_DROP = {"connection", "keep-alive", "upgrade", "te", "trailer", "transfer-encoding", "content-length"}
_RESPONSE_DROP = {"connection", "keep-alive", "upgrade", "trailer", "transfer-encoding", "content-length"}


@dataclass(frozen=True)
class Hit:
    upstream: int  # index into the proxy's upstreams
    method: str
    path: str  # with the query string
    websocket: bool
    status: int | None = None  # None for a websocket


class RoundRobinProxy:
    """`with RoundRobinProxy([url_a, url_b]) as proxy:` then point the browser at `proxy.url`."""

    def __init__(self, upstreams: list[str]) -> None:
        self.upstreams = list(upstreams)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.hits: list[Hit] = []
        self._http_turn = itertools.cycle(range(len(self.upstreams)))
        self._ws_turn = itertools.cycle(range(len(self.upstreams)))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="round-robin-proxy", daemon=True)
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self._sockets: set[web.WebSocketResponse | aiohttp.ClientWebSocketResponse] = set()

    # -- lifecycle (called from the test's thread) -----------------------------------------------------------

    def start(self) -> RoundRobinProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> RoundRobinProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _start(self) -> None:
        # auto_decompress=False: bodies pass through as the upstream encoded them, with their Content-Encoding.
        self._client = aiohttp.ClientSession(auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar())
        app = web.Application(client_max_size=0)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _stop(self) -> None:
        for socket in list(self._sockets):  # a browser still connected would hold the shutdown
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._client is not None:
            await self._client.close()

    # -- forwarding ------------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("upgrade", "").lower() == "websocket":
            return await self._websocket(request)
        index = next(self._http_turn)
        headers = CIMultiDict((k, v) for k, v in request.headers.items() if k.lower() not in _REQUEST_DROP)
        assert self._client is not None
        async with self._client.request(
            request.method,
            self.upstreams[index] + request.path_qs,
            headers=headers,
            data=await request.read() if request.can_read_body else None,
            allow_redirects=False,
        ) as upstream:
            body = await upstream.read()
            self.hits.append(Hit(index, request.method, request.path_qs, False, upstream.status))
            out = CIMultiDict((k, v) for k, v in upstream.headers.items() if k.lower() not in _RESPONSE_DROP)
            return web.Response(status=upstream.status, headers=out, body=body)

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        index = next(self._ws_turn)
        self.hits.append(Hit(index, request.method, request.path_qs, True))
        protocols = [p.strip() for p in request.headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
        passed = {k: v for k, v in request.headers.items() if k.lower() in ("cookie", "origin", "host", "user-agent")}
        url = self.upstreams[index].replace("http://", "ws://", 1) + request.path_qs
        assert self._client is not None
        async with self._client.ws_connect(url, protocols=protocols, headers=passed, max_msg_size=0) as upstream:
            browser = web.WebSocketResponse(protocols=[upstream.protocol] if upstream.protocol else (), max_msg_size=0)
            await browser.prepare(request)
            self._sockets.update((upstream, browser))
            pumps = [
                asyncio.ensure_future(_pump(browser, upstream)),
                asyncio.ensure_future(_pump(upstream, browser)),
            ]
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            for pump in pumps:
                pump.cancel()
            await upstream.close()
            await browser.close()
            self._sockets.difference_update((upstream, browser))
            return browser


async def _pump(source: web.WebSocketResponse | aiohttp.ClientWebSocketResponse, target) -> None:  # noqa: ANN001
    async for message in source:
        if message.type == aiohttp.WSMsgType.TEXT:
            await target.send_str(message.data)
        elif message.type == aiohttp.WSMsgType.BINARY:
            await target.send_bytes(message.data)
        else:
            break
