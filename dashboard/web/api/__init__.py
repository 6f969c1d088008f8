"""The read API under /api/v1 on the app's own port (st.App routes): endpoints, the OpenAPI document, its reference.

`routes` is what streamlit_app.py mounts. The reference page is rendered here from the document (no script, no
CDN: the desk runs without a network), every text escaped.
"""

from __future__ import annotations

import html
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from dashboard.web.api.endpoints import ENDPOINTS
from dashboard.web.api.framework import LIMITS, PREFIX, Endpoint, openapi, route

__all__ = ["DOCUMENT", "ENDPOINTS", "LIMITS", "routes"]

DOCUMENT: dict[str, Any] = openapi(ENDPOINTS)


async def document(request: Request) -> Response:
    return JSONResponse(DOCUMENT, headers={"Cache-Control": "no-cache"})


def _reference_html(doc: dict[str, Any]) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Market Desk read API</title>",
        "<style>body{font:15px/1.5 system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}"
        "code{background:#f3f3f3;padding:0 .25em}table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}"
        "td,th{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}h2{margin-top:2em}"
        "</style></head><body>",
        f"<h1>{e(doc['info']['title'])}</h1><p>{e(doc['info']['description'])}</p>",
        "<p>Send <code>Authorization: Bearer &lt;token&gt;</code>. Tables answer JSON (<code>{data, meta}</code>: "
        "<code>meta</code> says <code>as_of</code>, <code>source</code> and the parameters used) or CSV with "
        "<code>?format=csv</code> or <code>Accept: text/csv</code>; long tables are paged by date "
        "(<code>meta.next_cursor</code>, a <code>Link: rel=next</code> header). Errors are RFC 9457 problem details. "
        f"The machine-readable document: <a href='{PREFIX}/openapi.json'>{PREFIX}/openapi.json</a>.</p>",
    ]
    for path, item in doc["paths"].items():
        op = item["get"]
        parts.append(f"<h2><code>GET {e(path)}</code></h2><p><b>{e(op['summary'])}</b>. {e(op['description'])}</p>")
        if op["parameters"]:
            parts.append("<table><tr><th>parameter</th><th>type</th><th>required</th><th>meaning</th></tr>")
            for p in op["parameters"]:
                schema = p["schema"]
                kind = schema.get("format") or schema.get("type")
                if "enum" in schema:
                    kind = " | ".join(str(v) for v in schema["enum"])
                if "default" in schema:
                    kind = f"{kind} (default {schema['default']})"
                parts.append(
                    f"<tr><td><code>{e(p['name'])}</code></td><td>{e(str(kind))}</td>"
                    f"<td>{'yes' if p['required'] else ''}</td><td>{e(p['description'])}</td></tr>"
                )
            parts.append("</table>")
    parts.append("</body></html>")
    return "".join(parts)


REFERENCE = _reference_html(DOCUMENT)


async def reference(request: Request) -> Response:
    return HTMLResponse(REFERENCE, headers={"Cache-Control": "no-cache"})


def _routes(endpoints: list[Endpoint]) -> list[Route]:
    return [Route(PREFIX + e.path, route(e), methods=["GET"]) for e in endpoints]


routes: list[Route] = [
    Route(PREFIX + "/openapi.json", document, methods=["GET"]),
    Route(PREFIX + "/docs", reference, methods=["GET"]),
    *_routes(ENDPOINTS),
]
