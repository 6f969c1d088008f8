"""FRED bodies for a fake server: recorded XML as is, and recorded JSON observations rendered as FRED's XML.

fredapi always asks for FRED's default XML, but some recordings are the JSON form; rendering them
as the XML FRED sends for the same request keeps every date and value string unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import quoteattr

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "api_samples"


def recorded(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def observations_json_as_xml(name: str) -> bytes:
    body = json.loads((FIXTURES / name).read_text())
    head = " ".join(
        f"{key}={quoteattr(str(body[key]))}"
        for key in ("realtime_start", "realtime_end", "observation_start", "observation_end", "units", "count")
    )
    rows = "\n".join(
        "  <observation "
        + " ".join(f"{k}={quoteattr(str(o[k]))}" for k in ("realtime_start", "realtime_end", "date", "value"))
        + "/>"
        for o in body["observations"]
    )
    return f'<?xml version="1.0" encoding="utf-8" ?>\n<observations {head}>\n{rows}\n</observations>\n'.encode()


def graph_csv_from_sample(series_id: str, start: str, end: str) -> str:
    """fredgraph.csv's shape (`observation_date,<ID>`) for bundled FRED data; no recorded body was available."""
    root = Path(__file__).resolve().parent.parent.parent / "data" / "sample" / "macro"
    lines = (root / f"{series_id}.csv").read_text().splitlines()[1:]
    rows = [line for line in lines if start <= line.split(",", 1)[0] <= end]
    return f"observation_date,{series_id}\n" + "\n".join(rows) + "\n"
