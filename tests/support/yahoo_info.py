"""yfinance's `Ticker.info` rebuilt from recorded Yahoo bodies, merged exactly as yfinance 1.x merges them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "api_samples"
# What yfinance's quote scraper asks quoteSummary for (those recorded), then the v7 quote laid over them.
AAPL_INFO_FILES = (
    "yahoo_quoteSummary_v10_summaryDetail_AAPL.json",
    "yahoo_quoteSummary_v10_defaultKeyStatistics_AAPL.json",
    "yahoo_quote_v7_AAPL.json",
)


def recorded_info(files: tuple[str, ...] = AAPL_INFO_FILES) -> dict[str, Any]:
    """`Ticker.info` as yfinance's `Quote._fetch_info` builds it: quoteSummary modules flattened in order, then the
    v7 quote's keys over them (its values win), None values dropped, `maxAge` 1 read as a day in seconds."""
    merged: dict[str, Any] = {}
    for name in files:
        body = json.loads((SAMPLES / name).read_text())
        for wrapper in ("quoteSummary", "quoteResponse"):
            for result in (body.get(wrapper) or {}).get("result") or []:
                merged.update(result)
    info: dict[str, Any] = {}
    for key, value in merged.items():
        if isinstance(value, dict):
            for inner, v in value.items():
                if v is not None:
                    info[inner] = 86400 if inner == "maxAge" and v == 1 else v
        elif value is not None:
            info[key] = value
    return info
