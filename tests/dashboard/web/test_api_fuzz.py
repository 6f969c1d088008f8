"""The read API fuzzed from its own OpenAPI document (Schemathesis): no 5xx, every answer as documented.

Schemathesis loads /api/v1/openapi.json from the in-process app and generates requests for every operation, both
schema-valid (positive) and schema-breaking (negative) ones, sent with an admin token to a copy of the sample
database. Half of the positive requests name stored symbols, series and saved indices with dates around the
sample, so the handlers run their real reads and analytics rather than stop at "unknown symbol"; an `Accept`
header is drawn too (CSV by header). Every answer must pass Schemathesis's checks: not a server error, a
documented status code, a documented content type, a body valid against the documented schema. The requests are
counted: at least 1,000 in all.

The tables' JSON and CSV are built a column at a time (framework.records_json, csv_text); generated frames of every
column kind check them, byte for byte, against the reference: json.dumps of `records` as JSONResponse writes it,
and pandas' to_csv.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup  # what a failed check raises (a BaseExceptionGroup)
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.applications import Starlette

from dashboard.access import tokens, users
from dashboard.web.api import LIMITS, framework, routes
from ingestion.indices import refresh_levels
from store import indices

pytestmark = pytest.mark.fuzz

APP = Starlette(routes=routes)
SCHEMA = schemathesis.openapi.from_asgi("/api/v1/openapi.json", APP)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MIN_REQUESTS = 1_000
# Examples per operation and mode; an operation without parameters runs out of distinct requests at once.
EXAMPLES = {GenerationMode.POSITIVE: 70, GenerationMode.NEGATIVE: 30}
ACCEPT = st.sampled_from([None, "application/json", "text/csv", "text/csv, application/json", "*/*"])
SAMPLE_DATES = st.dates(date(2017, 1, 1), date(2027, 12, 31)).map(date.isoformat)


@dataclass
class Stored:
    """What the database holds, for requests that name real things."""

    token: str
    symbols: list[str]
    series: list[str]
    index_names: list[str]


@pytest.fixture
def stored(make_sample_database, engine_for) -> Iterator[Stored]:
    """A fresh sample database for the app (the limit out of the way), an admin with a token and a saved index."""
    engine = engine_for(make_sample_database(), API_REQUESTS_PER_MINUTE="100000")
    LIMITS.close()  # the limiter's pool follows the engine of its first use
    users.add_user(engine, "fuzzer", "admin", "fuzz-password-1234-long", actor="test")
    _, token = tokens.create(engine, "fuzzer", "schemathesis", actor="test")
    saved = indices.save(engine, "fuzzer", "Big tech", {"universe": "tickers", "tickers": ["AAPL", "MSFT", "NVDA"]})
    refresh_levels(engine, [saved.id])
    with engine.connect() as conn:
        symbols = conn.execute(sa.text("select symbol from instruments order by 1")).scalars().all()
        series = conn.execute(sa.text("select series_id from macro_series order by 1")).scalars().all()
    yield Stored(token, list(symbols), list(series), [saved.name, "big tech", "Nothing saved"])
    LIMITS.close()


def realistic(operation: Any, known: Stored) -> st.SearchStrategy[dict[str, dict[str, Any]]]:
    """Fixed query and path values naming stored things, for the parameters this operation declares."""
    names = {p.name for p in operation.query}
    query: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    if "symbols" in names:
        query["symbols"] = st.lists(st.sampled_from(known.symbols), min_size=1, max_size=5, unique=True).map(",".join)
    if "ids" in names:
        query["ids"] = st.lists(st.sampled_from(known.series), min_size=1, max_size=3, unique=True).map(",".join)
    if "benchmark" in names:
        optional["benchmark"] = st.sampled_from(known.symbols)
    if "owner" in names:
        optional["owner"] = st.sampled_from(["fuzzer", "nobody"])
    for name in ("start", "end", "cursor", "date"):
        if name in names:
            optional[name] = SAMPLE_DATES
    path = {"name": st.sampled_from(known.index_names)} if "name" in {p.name for p in operation.path_parameters} else {}
    return st.fixed_dictionaries(
        {"query": st.fixed_dictionaries(query, optional=optional), "path": st.fixed_dictionaries(path)}
    )


def fuzz(operation: Any, mode: GenerationMode, known: Stored, send: Callable[[Any, str | None], None]) -> Callable:
    """A Hypothesis test sending `EXAMPLES[mode]` generated requests to `operation`."""

    @settings(max_examples=EXAMPLES[mode], deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        fixed: dict[str, Any] = {}
        if mode is GenerationMode.POSITIVE and data.draw(st.booleans(), label="realistic"):
            values = data.draw(realistic(operation, known), label="stored names")
            fixed = {"query": values["query"] or None, "path_parameters": values["path"] or None}
        case = data.draw(operation.as_strategy(mode, **fixed), label="case")
        send(case, data.draw(ACCEPT, label="accept"))

    return run


def test_every_operation_answers_as_documented_for_generated_requests(stored):
    sent: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    failures: list[str] = []

    def send(case: Any, accept: str | None) -> None:
        headers = {"Authorization": f"Bearer {stored.token}", **({"Accept": accept} if accept else {})}
        response = case.call(headers=headers)
        sent[case.operation.label] += 1
        statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    started = time.perf_counter()
    for result in SCHEMA.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                fuzz(operation, mode, stored, send)()
            except (Exception, FailureGroup) as exc:  # noqa: BLE001 - every operation is fuzzed, failures reported together
                failures.append(f"{operation.label} ({mode.value}): {type(exc).__name__}: {exc}")
    elapsed = time.perf_counter() - started

    total = sum(sent.values())
    print(f"\n{total} requests in {elapsed:.1f} s; statuses {dict(sorted(statuses.items()))}")
    for label, count in sent.items():
        print(f"  {count:5d}  {label}")
    assert not failures, "\n\n".join(failures)
    assert total >= MIN_REQUESTS, dict(sent)


# -- the column-at-a-time JSON and CSV against their references ---------------------------------------------------

DAYS = st.dates(date(1700, 1, 1), date(2250, 1, 1))
STAMPS = st.one_of(
    DAYS.map(lambda d: datetime(d.year, d.month, d.day)), st.datetimes(datetime(1700, 1, 1), datetime(2250, 1, 1))
)
# Text with what CSV must quote and JSON escape, and a "%" for the row template.
TEXT = st.one_of(st.text(max_size=6), st.text(alphabet=st.sampled_from(list('ab ,"\r\n\t%\u00e9\x00')), max_size=6))
PRICES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(1e-4, 1e6).map(lambda x: round(x, 2)),  # what prices look like: Arrow formats these
    st.floats(-1e16, 1e16),
)


def column(values: st.SearchStrategy[Any], dtype: Any, convert: Any = None) -> Any:
    """n values -> a Series of `dtype` (through `convert` first when given)."""
    make = (lambda v: pd.Series(convert(v), dtype=dtype)) if convert else (lambda v: pd.Series(v, dtype=dtype))
    return lambda n: st.lists(values, min_size=n, max_size=n).map(make)


COLUMNS: dict[str, Any] = {
    "float64": column(PRICES, "float64"),
    "float32": column(st.floats(width=32), "float32"),
    "int64": column(st.integers(-(2**63), 2**63 - 1), "int64"),
    "uint64": column(st.integers(0, 2**64 - 1), "uint64"),
    "bool": column(st.booleans(), "bool"),
    "dates": column(st.one_of(st.none(), DAYS), "datetime64[s]", pd.to_datetime),
    "stamps": column(st.one_of(st.none(), STAMPS), "datetime64[ns]", pd.to_datetime),
    "str": column(st.one_of(st.none(), TEXT), "str"),
    "object text": column(st.one_of(st.none(), TEXT), object),
    "object mixed": column(
        st.one_of(st.none(), TEXT, PRICES, st.integers(-(2**70), 2**70), st.booleans(), DAYS), object
    ),
    "Int64": column(st.one_of(st.none(), st.integers(-1000, 1000)), "Int64"),
}


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    rows = draw(st.integers(0, 12))
    kinds = draw(st.lists(st.sampled_from(sorted(COLUMNS)), max_size=6))
    names = draw(st.lists(st.one_of(TEXT, st.integers(-3, 3)), min_size=len(kinds), max_size=len(kinds)))
    frame = pd.DataFrame({i: draw(COLUMNS[kind](rows)) for i, kind in enumerate(kinds)}, index=range(rows))
    frame.columns = names if draw(st.booleans()) else [f"{name}{i}" for i, name in enumerate(names)]
    return frame


def reference_json(frame: pd.DataFrame) -> str | type[Exception]:
    try:
        return json.dumps(framework.records(frame), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        return type(exc)


@settings(max_examples=600, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(frames())
def test_tables_in_json_and_csv_are_the_references_byte_for_byte(frame):
    expected = reference_json(frame)
    if isinstance(expected, str):
        assert framework.records_json(frame) == expected
    else:
        with pytest.raises(expected):
            framework.records_json(frame)
    assert framework.csv_text(frame) == framework._csv_text_pandas(frame)


def test_floats_are_written_as_repr_writes_them():
    """Arrow formats most floats (framework._arrow_float_texts): the same text as repr over every magnitude."""
    assert framework._ARROW_FLOATS, "this pyarrow formats floats otherwise: every float goes through repr (slower)"
    rng = np.random.default_rng(5)
    values = np.concatenate(
        [
            rng.integers(0, 2**64, 200_000, dtype=np.uint64).view(np.float64),  # every bit pattern: any magnitude
            *(np.round(rng.random(5_000) * 10.0**e, d) for e in range(-6, 18) for d in (2, 6, 12)),
            [0.0, -0.0, 1e16, 1e15, 1e-4, 1e-5, 9.999999999999999e15, 5e-324, np.inf, -np.inf, np.nan],
        ]
    )
    assert framework._arrow_float_texts(values) == list(map(float.__repr__, values.tolist()))
