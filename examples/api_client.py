"""The Market Desk read API from a script or a notebook: prices into one pandas DataFrame, risk, a problem shown.

    export MD_API_URL=http://localhost:8501 MD_TOKEN=mdk_...   # a token from the API tokens page
    python examples/api_client.py

Only the standard library (urllib) and pandas: httpx is not among the desk's runtime requirements. Each function
takes `base` and `token`, read from MD_API_URL and MD_TOKEN when not given; copy them into a notebook cell.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pandas as pd


class ApiError(Exception):
    """An RFC 9457 problem the API answered (400 bad parameters, 401 token, 404 unknown symbol, 429 limit...)."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status, self.problem = status, problem
        super().__init__(str(self))

    def __str__(self) -> str:
        p = self.problem
        lines = [f"{self.status} {p.get('title', 'Error')}: {p.get('detail', '')}"]
        lines += [f"  - {item['name']}: {item['reason']}" for item in p.get("invalid_params", [])]
        close = {name: names for name, names in p.get("suggestions", {}).items() if names}
        lines += [f"  - {name}: did you mean {' or '.join(names)}?" for name, names in close.items()]
        return "\n".join(lines)


def get(path: str, params: dict[str, Any] | None = None, *, base: str | None = None, token: str | None = None) -> Any:
    """One JSON answer of /api/v1/<path>; ApiError for a problem. A 429 waits its Retry-After, then asks again."""
    base = (base or os.environ.get("MD_API_URL") or "http://localhost:8501").rstrip("/")
    token = token or os.environ.get("MD_TOKEN", "")
    if urllib.parse.urlsplit(base).scheme not in ("http", "https"):
        raise ValueError(f"MD_API_URL must be an http(s) address, not {base!r}")
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
        f"{base}/api/v1/{path.lstrip('/')}{query}",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
    )
    attempts = 0
    while True:
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - http(s) only
                return json.load(response)
        except urllib.error.HTTPError as error:
            body = error.read()
            problem = json.loads(body) if "json" in error.headers.get("Content-Type", "") else {"detail": body.decode()}
            attempts += 1
            if error.code != 429 or attempts == 3:
                raise ApiError(error.code, problem) from None
            time.sleep(float(error.headers.get("Retry-After", "1")))


def table(path: str, params: dict[str, Any] | None = None, **auth: str | None) -> pd.DataFrame:
    """A whole table in one DataFrame: every page, following `meta.next_cursor`; dates as datetimes."""
    params = dict(params or {})
    pages = []
    while True:
        answer = get(path, params, **auth)
        pages.append(pd.DataFrame(answer["data"]))
        if not answer["meta"].get("next_cursor"):
            break
        params["cursor"] = answer["meta"]["next_cursor"]
    frame = pd.concat(pages, ignore_index=True)
    if "date" in frame.columns:
        frame["date"] = pd.to_datetime(frame["date"])
    return frame


def main() -> int:
    if not os.environ.get("MD_TOKEN"):
        print("Set MD_TOKEN to a personal API token (the API tokens page) and MD_API_URL to the desk's address.")
        return 2
    prices = table("prices", {"symbols": "AAPL,MSFT", "start": "2025-01-01"})
    print(f"{len(prices)} daily bars, {prices['date'].min():%Y-%m-%d} to {prices['date'].max():%Y-%m-%d}")
    print(prices.head().to_string(index=False), end="\n\n")
    closes = prices.pivot(index="date", columns="symbol", values="close")
    print("closes, last three days:", closes.tail(3), sep="\n", end="\n\n")

    risk = table("risk", {"symbols": "AAPL,MSFT"})
    print(risk.set_index("symbol")[["total_return", "volatility", "sharpe", "max_drawdown", "beta"]], end="\n\n")

    try:
        table("prices", {"symbols": "AAPL,MSFTT"})  # a typo: 404 with close matches
    except ApiError as error:
        print("A problem, as the API explains it:", error, sep="\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
