"""The read API's machinery: declared parameters (parsed, checked and documented from one declaration), bearer
tokens, a per-token rate limit held in PostgreSQL, RFC 9457 problem details, JSON or CSV, date-cursor pages, and
the OpenAPI 3.1 document built from the same declarations.

An endpoint is one `Endpoint(...)`: its path, its parameters (`Param`), whether it is a table (CSV offered, paged)
and a handler `(ctx) -> Result` that runs in a worker thread. Everything else (authentication, the limit, errors,
formats, metrics, the document) happens here, once.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dashboard.access import audit, tokens
from dashboard.access.client_ip import resolve_client_ip, trusted_hops
from dashboard.web import metrics
from store import clock
from store.db import DatabaseUnavailable, get_engine
from store.errors import first_line
from store.identifiers import SERIES_ID, SYMBOL
from store.settings import get_settings

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
PROBLEM_TYPES = "https://market-desk.invalid/problems/"  # problem `type` URIs: identifiers, not pages
MAX_LIMIT = 50_000
DEFAULT_LIMIT = 10_000


# -- problems ----------------------------------------------------------------------------------------------------


class Problem(Exception):
    """An RFC 9457 problem: raised anywhere under a handler, answered as application/problem+json."""

    def __init__(self, status: int, slug: str, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail, self.extra = status, slug, title, detail, extra

    def response(self, instance: str) -> JSONResponse:
        body = {
            "type": PROBLEM_TYPES + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "instance": instance,
            **self.extra,
        }
        headers = {"Cache-Control": "no-store"}
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="market-desk"'
        if "retry_after" in self.extra:
            headers["Retry-After"] = str(self.extra["retry_after"])
        return JSONResponse(body, status_code=self.status, headers=headers, media_type="application/problem+json")


def bad_request(detail: str, **extra: Any) -> Problem:
    return Problem(400, "bad-request", "Bad request", detail, **extra)


def not_found(detail: str, **extra: Any) -> Problem:
    return Problem(404, "not-found", "Not found", detail, **extra)


def unknown_symbols(unknown: Sequence[str], known: Sequence[str]) -> Problem:
    """404 naming each unknown symbol with close matches from the stored universe."""
    suggestions = {s: difflib.get_close_matches(s, known, n=3, cutoff=0.6) for s in unknown}
    return not_found(f"unknown symbol(s): {', '.join(unknown)}", suggestions=suggestions)


# -- parameters ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One query parameter: its kind decides parsing, checking and its schema in the OpenAPI document.

    kinds: "symbols" (comma-separated, the symbol rule), "symbol", "series_ids", "date", "bool", "number",
    "integer", "choice", "text".
    """

    name: str
    kind: str
    description: str
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    max_items: int | None = None

    def schema(self) -> dict[str, Any]:
        schemas: dict[str, dict[str, Any]] = {
            "symbols": {"type": "string", "pattern": r"^[^,]+(,[^,]+)*$"},
            "series_ids": {"type": "string", "pattern": r"^[^,]+(,[^,]+)*$"},
            "symbol": {"type": "string", "minLength": 1, "maxLength": 15},
            "date": {"type": "string", "format": "date"},
            "bool": {"type": "boolean"},
            "number": {"type": "number"},
            "integer": {"type": "integer"},
            "choice": {"type": "string", "enum": list(self.choices)},
            "text": {"type": "string", "maxLength": 200},
        }
        base = schemas[self.kind]
        if self.minimum is not None:
            base["minimum"] = self.minimum
        if self.maximum is not None:
            base["maximum"] = self.maximum
        if self.default is not None:
            base["default"] = self.default
        return base

    def parse(self, raw: str | None) -> Any:
        """The value, the default when absent, or ValueError with a message naming the parameter."""
        if raw is None or raw == "":
            if self.required:
                raise ValueError(f"{self.name} is required")
            return self.default
        if self.kind == "symbols":
            items = [part for part in (p.strip() for p in raw.split(",")) if part]
            if not items:
                raise ValueError(f"{self.name}: give at least one symbol")
            if self.max_items is not None and len(items) > self.max_items:
                raise ValueError(f"{self.name}: at most {self.max_items} symbols per request")
            good, bad = SYMBOL.split(items)
            if bad:
                raise ValueError(f"{self.name}: " + "; ".join(f"{k!r}: {v}" for k, v in bad.items()))
            return list(dict.fromkeys(good))
        if self.kind == "series_ids":
            items = [part for part in (p.strip() for p in raw.split(",")) if part]
            if self.max_items is not None and len(items) > self.max_items:
                raise ValueError(f"{self.name}: at most {self.max_items} series per request")
            good, bad = SERIES_ID.split(items)
            if bad or not good:
                raise ValueError(f"{self.name}: " + ("; ".join(f"{k!r}: {v}" for k, v in bad.items()) or "empty"))
            return list(dict.fromkeys(good))
        if self.kind == "symbol":
            good, bad = SYMBOL.split([raw])
            if bad:
                raise ValueError(f"{self.name}: {next(iter(bad.values()))}")
            return good[0]
        if self.kind == "date":
            try:
                return date.fromisoformat(raw)
            except ValueError:
                raise ValueError(f"{self.name}: {raw[:40]!r} is not a date (YYYY-MM-DD)") from None
        if self.kind == "bool":
            lowered = raw.strip().lower()
            if lowered in ("true", "1", "yes"):
                return True
            if lowered in ("false", "0", "no"):
                return False
            raise ValueError(f"{self.name}: {raw[:40]!r} is not true or false")
        if self.kind in ("number", "integer"):
            try:
                value: float | int = int(raw) if self.kind == "integer" else float(raw)
            except ValueError:
                raise ValueError(
                    f"{self.name}: {raw[:40]!r} is not {'an integer' if self.kind == 'integer' else 'a number'}"
                ) from None
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{self.name}: must be a finite number")
            if self.minimum is not None and value < self.minimum:
                raise ValueError(f"{self.name}: must be at least {self.minimum:g}")
            if self.maximum is not None and value > self.maximum:
                raise ValueError(f"{self.name}: must be at most {self.maximum:g}")
            return value
        if self.kind == "choice":
            lowered = raw.strip()
            matches = [c for c in self.choices if c.lower() == lowered.lower()]
            if not matches:
                raise ValueError(f"{self.name}: {raw[:40]!r} is not one of {', '.join(self.choices)}")
            return matches[0]
        if len(raw) > 200:
            raise ValueError(f"{self.name}: at most 200 characters")
        return raw


FORMAT = Param(
    "format", "choice", "`json` (default) or `csv`; `Accept: text/csv` asks for CSV too.", choices=("json", "csv")
)
LIMIT = Param(
    "limit",
    "integer",
    "Rows per page (whole dates are never split).",
    default=DEFAULT_LIMIT,
    minimum=1,
    maximum=MAX_LIMIT,
)
CURSOR = Param("cursor", "date", "The `next_cursor` of the previous page: rows dated after it.")


# -- results and endpoints --------------------------------------------------------------------------------------


@dataclass
class Result:
    """What a handler returns: a table (DataFrame) or an object, with where it comes from and as of when."""

    data: pd.DataFrame | dict[str, Any] | list[Any]
    source: str | None
    as_of: date | datetime | str | None
    date_column: str | None = None  # a table paged by date (cursor) names its date column
    notes: list[str] = field(default_factory=list)  # what a reader should know (a short history, a gap)


@dataclass
class Context:
    request: Request
    params: dict[str, Any]
    user: tokens.TokenUser | None
    rows: int = 0  # rows in the answer (set by `respond`): a large one is audited as an export


@dataclass(frozen=True)
class Endpoint:
    path: str  # relative to PREFIX, e.g. "/prices" or "/indices/{name}/levels"
    summary: str
    description: str
    handler: Callable[[Context], Result]
    params: tuple[Param, ...] = ()
    table: bool = True  # CSV offered; paged when the result names a date column
    admin: bool = False
    public: bool = False  # no token needed (the document itself)
    tag: str = "data"
    path_params: tuple[Param, ...] = field(default_factory=tuple)

    @property
    def all_params(self) -> tuple[Param, ...]:
        extra = (FORMAT, LIMIT, CURSOR) if self.table else ()
        return (*self.params, *extra)


# -- rate limit --------------------------------------------------------------------------------------------------


class TokenLimits:
    """Requests per minute per token, counted in PostgreSQL by pyrate-limiter's PostgresBucket (so the limit holds
    across processes and instances). One bucket (table `ratelimit___api_token_<id>`, created by the library) per
    token; the library locks its table NOWAIT, so a put that loses a race is tried again before it counts as over
    the limit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: Any = None
        self._buckets: dict[int, Any] = {}

    def _bucket(self, token_id: int, per_minute: int) -> Any:
        from psycopg_pool import ConnectionPool
        from pyrate_limiter import Duration, PostgresBucket, Rate

        with self._lock:
            if self._pool is None:
                url = get_engine().url.set(drivername="postgresql").render_as_string(hide_password=False)
                self._pool = ConnectionPool(url, min_size=0, max_size=4, open=True)
            bucket = self._buckets.get(token_id)
            if bucket is None or bucket.rates[0].limit != per_minute:
                bucket = PostgresBucket(self._pool, f"api_token_{token_id}", [Rate(per_minute, Duration.MINUTE)])
                self._buckets[token_id] = bucket
            return bucket

    def acquire(self, token_id: int) -> float | None:
        """None when the request may go on; else the seconds to wait (Retry-After)."""
        from pyrate_limiter import RateItem

        per_minute = get_settings().api_requests_per_minute
        bucket = self._bucket(token_id, per_minute)
        for attempt in range(5):
            now_ms = int(clock.epoch_seconds() * 1000)
            bucket.leak(now_ms)
            item = RateItem(f"token-{token_id}", now_ms)
            if bucket.put(item):
                return None
            if bucket.count() < per_minute:  # lost the table lock to a concurrent request, not over the limit
                time.sleep(0.005 * (attempt + 1))
                continue
            oldest = bucket.peek(per_minute - 1)
            wait_ms = (oldest.timestamp + 60_000 - now_ms) if oldest is not None else 60_000
            return max(1.0, math.ceil(wait_ms / 1000))
        return 1.0

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
            self._pool, self._buckets = None, {}


LIMITS = TokenLimits()


# -- responses ---------------------------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() and value.tz is None else value.isoformat()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is pd.NA:
        return None
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: NaN/NA -> null, midnight timestamps -> dates, others ISO 8601."""
    columns = list(frame.columns)
    return [
        {c: _jsonable(v) for c, v in zip(columns, row, strict=True)} for row in frame.itertuples(index=False, name=None)
    ]


# How JSONResponse renders (starlette.responses.JSONResponse.render): the body built below is byte for byte the same.
_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode


def _arrow_float_texts(values: np.ndarray) -> list[str]:
    """Each float64 as `float.__repr__` writes it, formatted in bulk by Arrow's cast to string (a few times faster).

    Both write the shortest text that reads back as the same float, so Arrow's text is repr's whenever both write
    it positionally with a fraction: Arrow's has a point and no exponent and the magnitude is in repr's positional
    range [1e-4, 1e16). The rest (integral values, which repr ends in ".0", tiny, huge, nan, inf) go through repr.
    """
    texts = pc.cast(pa.array(values), pa.string())
    magnitude = np.abs(values)
    with np.errstate(invalid="ignore"):
        same = (magnitude >= 1e-4) & (magnitude < 1e16)
    same &= pc.match_substring(texts, ".").to_numpy(zero_copy_only=False)
    same &= ~pc.match_substring(texts, "e").to_numpy(zero_copy_only=False)
    out = texts.to_pylist()
    for i in np.flatnonzero(~same).tolist():
        out[i] = float.__repr__(float(values[i]))
    return out


def _arrow_agrees() -> bool:
    """Whether this pyarrow formats floats as assumed (checked once, on values of every magnitude repr writes
    positionally); if not, every float goes through repr."""
    values = np.random.default_rng(11).random(600) * np.repeat(10.0 ** np.arange(-4, 16), 30)
    values = np.concatenate([values, -values, np.round(values, 2), [0.1, 1 / 3, 2 / 3, 36.750281492025124]])
    try:
        return _arrow_float_texts(values) == list(map(float.__repr__, values.tolist()))
    except Exception:  # noqa: BLE001 - any doubt: repr only
        return False


_ARROW_FLOATS = _arrow_agrees()


def _float_texts(values: np.ndarray) -> list[str]:
    """`float.__repr__` of each float64 (what json and numpy's astype(str), hence pandas' to_csv, write): through
    Arrow when most have a fraction (prices), else repr (whole numbers, such as volumes, would all be redone)."""
    if _ARROW_FLOATS and np.count_nonzero(np.modf(values)[0]) * 2 > len(values):
        return _arrow_float_texts(values)
    return list(map(float.__repr__, values.tolist()))


def _json_values(column: pd.Series) -> list[str]:
    """Each value of `column` as the JSON text `_jsonable` and then JSONResponse give it, a column at a time."""
    dtype = column.dtype
    if dtype == np.float64:
        values = column.to_numpy()
        texts = _float_texts(values)
        for i in np.flatnonzero(~np.isfinite(values)).tolist():
            texts[i] = "null"
        return texts
    if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
        values = column.to_numpy()
        if dtype.kind == "f" and not np.isfinite(values).all():
            boxed = values.astype(object)
            boxed[~np.isfinite(values)] = None
            return _encode(boxed.tolist())[1:-1].split(",")
        return _encode(values.tolist())[1:-1].split(",")  # numbers, null, true and false hold no comma
    if isinstance(dtype, np.dtype) and dtype.kind == "M":  # naive stamps: midnight as a date, others ISO 8601
        codes, uniques = pd.factorize(column)  # each distinct stamp once (a date has a row per symbol)
        stamps = uniques.to_numpy()
        texts = [f'"{day}"' for day in np.datetime_as_string(stamps, unit="D").tolist()]
        for i in np.flatnonzero(stamps != stamps.astype("datetime64[D]")).tolist():
            texts[i] = _encode(_jsonable(uniques[i]))
        return np.array([*texts, "null"], dtype=object)[codes].tolist()  # code -1 (NaT) picks the trailing null
    if pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty"):  # text: each distinct value once
        codes, uniques = pd.factorize(column)
        encoded = np.array([*(_encode(str(u)) for u in uniques), "null"], dtype=object)
        return encoded[codes].tolist()  # code -1 (missing) picks the trailing null
    return [_encode(_jsonable(v)) for v in column]


def records_json(frame: pd.DataFrame) -> str:
    """`records(frame)` as JSON text, as JSONResponse writes it, built a column at a time (a few times faster)."""
    columns = list(frame.columns)
    if len(frame) == 0:
        return "[]"
    if not columns:
        return "[" + ",".join(["{}"] * len(frame)) + "]"
    if len(set(columns)) != len(columns):  # a dict keeps one of each: the reference path says which
        return _encode(records(frame))
    keys = [_encode({c: 0})[1:-3].replace("%", "%%") for c in columns]  # as json writes a dict key
    template = "{" + ",".join(f"{k}:%s" for k in keys) + "}"
    values = [_json_values(frame.iloc[:, i]) for i in range(len(columns))]
    return "[" + ",".join([template % row for row in zip(*values, strict=True)]) + "]"


def _csv_field(text: str) -> str:
    """`text` as pandas' csv writer puts it in a row of several fields (quoted when it must be)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=os.linesep).writerow([text, ""])
    return buffer.getvalue()[: -1 - len(os.linesep)]


def _csv_values(column: pd.Series) -> list[str] | None:
    """Each value of `column` as `_csv_text_pandas` writes it, a column at a time; None: a column left to pandas."""
    dtype = column.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biu":
        return list(map(str, column.to_numpy().tolist()))
    if dtype == np.float64:  # numpy's astype(str), what pandas writes, is the shortest repr, as Python's
        values = column.to_numpy()
        texts = _float_texts(values)
        for i in np.flatnonzero(np.isnan(values)).tolist():
            texts[i] = ""
        return texts
    if isinstance(dtype, np.dtype) and dtype.kind == "M":
        codes, uniques = pd.factorize(column)
        stamps = uniques.to_numpy()
        if (stamps != stamps.astype("datetime64[D]")).any():
            return None  # times of day: pandas' own format
        return np.array([*np.datetime_as_string(stamps, unit="D").tolist(), ""], dtype=object)[codes].tolist()
    if pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty"):
        codes, uniques = pd.factorize(column)
        encoded = np.array([*(_csv_field(u) for u in uniques), ""], dtype=object)
        return encoded[codes].tolist()  # code -1 (missing) picks the trailing empty field
    return None


def csv_text(frame: pd.DataFrame) -> str:
    """The frame as CSV (`_csv_text_pandas`, byte for byte), built a column at a time when its columns allow."""
    columns = list(frame.columns)
    if len(frame) and len(columns) > 1 and all(isinstance(c, str) for c in columns):
        values = [_csv_values(frame.iloc[:, i]) for i in range(len(columns))]
        if all(v is not None for v in values):
            template = ",".join(["%s"] * len(columns))
            lines = [",".join(_csv_field(c) for c in columns), *(template % row for row in zip(*values, strict=True))]
            return os.linesep.join(lines) + os.linesep
    return _csv_text_pandas(frame)


def _csv_text_pandas(frame: pd.DataFrame) -> str:
    """pandas' to_csv, dates (midnight stamps) as YYYY-MM-DD."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            stamps = out[column]
            if stamps.dt.tz is None and (stamps.dropna() == stamps.dropna().dt.normalize()).all():
                out[column] = stamps.dt.date
    buffer = io.StringIO()
    out.to_csv(buffer, index=False)
    return buffer.getvalue()


def _page(frame: pd.DataFrame, column: str, limit: int, cursor: date | None) -> tuple[pd.DataFrame, date | None]:
    """Rows dated after `cursor`, at most `limit` of them unless one date alone has more; whole dates only."""
    dates = pd.to_datetime(frame[column])
    if cursor is not None:
        frame, dates = frame[dates > pd.Timestamp(cursor)], dates[dates > pd.Timestamp(cursor)]
    if len(frame) <= limit and dates.is_monotonic_increasing:  # one page, in date order already: as sorted below
        return frame, None
    frame = frame.assign(_d=dates.to_numpy()).sort_values("_d", kind="stable")
    if len(frame) <= limit:
        return frame.drop(columns="_d"), None
    last_date = frame["_d"].iloc[limit - 1]
    if frame["_d"].iloc[limit] == last_date and frame["_d"].iloc[0] != last_date:
        last_date = frame["_d"][frame["_d"] < last_date].iloc[-1]  # that date would overflow: it starts the next page
    cut = frame[frame["_d"] <= last_date]
    if len(cut) == len(frame):
        return cut.drop(columns="_d"), None
    return cut.drop(columns="_d"), pd.Timestamp(last_date).date()


def wants_csv(request: Request, params: dict[str, Any]) -> bool:
    if params.get("format") == "csv":
        return True
    if params.get("format") == "json":
        return False
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept


def _next_url(request: Request, cursor: date) -> str:
    query = dict(request.query_params)
    query["cursor"] = cursor.isoformat()
    return str(request.url.replace_query_params(**query))


def respond(endpoint: Endpoint, ctx: Context, result: Result) -> Response:
    shown = {k: _jsonable(v) for k, v in ctx.params.items() if k not in ("format", "cursor") and v is not None}
    meta: dict[str, Any] = {"as_of": _jsonable(result.as_of), "source": result.source, "parameters": shown}
    if result.notes:
        meta["notes"] = list(result.notes)
    data = result.data
    if not isinstance(data, pd.DataFrame):
        return JSONResponse({"data": _jsonable(data), "meta": meta}, headers={"Cache-Control": "no-store"})
    next_cursor = None
    if endpoint.table and result.date_column and not data.empty:
        data, next_cursor = _page(
            data, result.date_column, ctx.params.get("limit") or DEFAULT_LIMIT, ctx.params.get("cursor")
        )
    meta["rows"] = ctx.rows = len(data)
    meta["next_cursor"] = next_cursor and next_cursor.isoformat()
    headers = {"Cache-Control": "no-store"}
    if next_cursor is not None:
        headers["Link"] = f'<{_next_url(ctx.request, next_cursor)}>; rel="next"'
    if endpoint.table and wants_csv(ctx.request, ctx.params):
        headers.update(
            {
                "X-As-Of": str(meta["as_of"] or ""),
                "X-Source": str(result.source or ""),
                "X-Parameters": json.dumps(shown, separators=(",", ":")),
                "Content-Disposition": f'inline; filename="{endpoint.path.strip("/").replace("/", "_") or "data"}.csv"',
            }
        )
        if next_cursor is not None:
            headers["X-Next-Cursor"] = next_cursor.isoformat()
        return Response(csv_text(data), media_type="text/csv; charset=utf-8", headers=headers)
    # The body of JSONResponse({"data": records(data), "meta": meta}), without a dict per row.
    body = '{"data":' + records_json(data) + ',"meta":' + _encode(meta) + "}"
    return Response(body.encode("utf-8"), media_type="application/json", headers=headers)


# -- the request path -----------------------------------------------------------------------------------------


def bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def parse_params(endpoint: Endpoint, request: Request) -> dict[str, Any]:
    declared = {p.name for p in (*endpoint.all_params, *endpoint.path_params)}
    unknown = sorted(set(request.query_params) - declared)
    problems: list[dict[str, str]] = [{"name": name, "reason": "not a parameter of this endpoint"} for name in unknown]
    values: dict[str, Any] = {}
    for param in endpoint.path_params:
        try:
            values[param.name] = param.parse(request.path_params.get(param.name))
        except ValueError as exc:
            problems.append({"name": param.name, "reason": str(exc)})
    for param in endpoint.all_params:
        raw = request.query_params.getlist(param.name)
        if len(raw) > 1:
            problems.append({"name": param.name, "reason": "given more than once"})
            continue
        try:
            values[param.name] = param.parse(raw[0] if raw else None)
        except ValueError as exc:
            problems.append({"name": param.name, "reason": str(exc)})
    if problems:
        detail = "; ".join(
            f"{p['name']}: {p['reason']}" if not p["reason"].startswith(p["name"]) else p["reason"] for p in problems
        )
        raise Problem(400, "invalid-parameters", "Invalid parameters", detail, invalid_params=problems)
    return values


def _client_ip(request: Request) -> str | None:
    """The caller's address, trusting X-Forwarded-For as far as FORWARDED_FOR_HOPS says (as the pages do)."""
    peer = request.client.host if request.client else None
    return resolve_client_ip(request.headers.getlist("x-forwarded-for"), peer, trusted_hops(get_settings()))


def _audit_export(endpoint: Endpoint, ctx: Context, media_type: str | None) -> None:
    """A large answer is an export: who, which endpoint, how many rows, in what format, with which parameters."""
    assert ctx.user is not None
    details = {
        "endpoint": PREFIX + endpoint.path,
        "rows": ctx.rows,
        "format": "csv" if media_type and media_type.startswith("text/csv") else "json",
        "token_id": ctx.user.token_id,
        "parameters": {k: _jsonable(v) for k, v in ctx.params.items() if v is not None},
    }
    with get_engine().begin() as conn:
        audit.write(conn, "api_export", username=ctx.user.username, client_ip=_client_ip(ctx.request), details=details)


def route(endpoint: Endpoint) -> Callable[[Request], Any]:
    """The Starlette handler for `endpoint`: authenticate, limit, parse, run, answer; errors as problems."""
    label = PREFIX + endpoint.path

    async def handle(request: Request) -> Response:
        started = time.perf_counter()
        status = 500
        try:
            user = None
            if not endpoint.public:
                token = bearer(request)
                if token is None:
                    raise Problem(
                        401,
                        "unauthenticated",
                        "Unauthenticated",
                        "send a personal API token: Authorization: Bearer <token>",
                    )
                user = await run_in_threadpool(tokens.authenticate, get_engine(), token)
                if user is None:
                    raise Problem(401, "unauthenticated", "Unauthenticated", "the token is unknown, revoked or expired")
                if endpoint.admin and user.role != "admin":
                    raise Problem(403, "forbidden", "Forbidden", "this endpoint is for admins")
                wait = await run_in_threadpool(LIMITS.acquire, user.token_id)
                if wait is not None:
                    per_minute = get_settings().api_requests_per_minute
                    raise Problem(
                        429,
                        "rate-limited",
                        "Too many requests",
                        f"at most {per_minute} requests a minute per token; retry in {wait:.0f} s",
                        retry_after=int(wait),
                    )
            ctx = Context(request, parse_params(endpoint, request), user)
            result = await run_in_threadpool(endpoint.handler, ctx)
            # Building a big body takes a few tens of ms: off the event loop, which serves every page's websocket.
            response = await run_in_threadpool(respond, endpoint, ctx, result)
            if ctx.user is not None and ctx.rows >= get_settings().api_audit_rows:
                await run_in_threadpool(_audit_export, endpoint, ctx, response.media_type)
        except Problem as problem:
            response = problem.response(request.url.path)
        except DatabaseUnavailable as exc:
            log.warning("api %s: database unavailable: %s", label, first_line(exc))
            response = Problem(
                503, "unavailable", "Service unavailable", "the database cannot be reached; try again"
            ).response(request.url.path)
        except ValueError as exc:  # a read or an analytics function refusing its input
            response = bad_request(first_line(exc)).response(request.url.path)
        except Exception:  # noqa: BLE001 - logged with context, answered as a problem without internals
            log.exception("api %s failed (query %s)", label, dict(request.query_params))
            response = Problem(500, "internal", "Internal error", "the request failed; it is logged").response(
                request.url.path
            )
        status = response.status_code
        metrics.API_REQUESTS.labels(endpoint=label, status=str(status)).inc()
        metrics.API_SECONDS.labels(endpoint=label).observe(time.perf_counter() - started)
        return response

    return handle


# -- the OpenAPI document ---------------------------------------------------------------------------------------


def openapi(endpoints: Sequence[Endpoint]) -> dict[str, Any]:
    """OpenAPI 3.1 from the declarations: paths, parameters with their schemas, the answers, bearer security."""
    problem = {"$ref": "#/components/responses/Problem"}
    paths: dict[str, Any] = {}
    for e in endpoints:
        parameters = [
            {"name": p.name, "in": "path", "required": True, "description": p.description, "schema": p.schema()}
            for p in e.path_params
        ] + [
            {"name": p.name, "in": "query", "required": p.required, "description": p.description, "schema": p.schema()}
            for p in e.all_params
        ]
        content: dict[str, Any] = {"application/json": {"schema": {"$ref": "#/components/schemas/Envelope"}}}
        if e.table:
            content["text/csv"] = {"schema": {"type": "string"}}
        responses: dict[str, Any] = {"200": {"description": "OK", "content": content}}
        if not e.public:
            responses.update({"400": problem, "401": problem, "404": problem, "429": problem, "503": problem})
            if e.admin:
                responses["403"] = problem
        else:
            responses["400"] = problem
        operation: dict[str, Any] = {
            "operationId": (e.path.strip("/").replace("/", "_").replace("{", "").replace("}", "") or "root"),
            "summary": e.summary,
            "description": e.description,
            "tags": [e.tag],
            "parameters": parameters,
            "responses": responses,
        }
        if e.public:
            operation["security"] = []
        paths[PREFIX + e.path] = {"get": operation}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Market Desk read API",
            "version": "1",
            "description": "The desk's data and analytics, the same numbers as the pages. Personal tokens from the "
            "API tokens page or `python -m dashboard.users token add`.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Envelope": {
                    "type": "object",
                    "required": ["data", "meta"],
                    "properties": {
                        "data": {"type": ["array", "object"]},
                        "meta": {
                            "type": "object",
                            "required": ["as_of", "source", "parameters"],
                            "properties": {
                                "as_of": {"type": ["string", "null"]},
                                "source": {"type": ["string", "null"]},
                                "parameters": {"type": "object"},
                                "rows": {"type": "integer"},
                                "next_cursor": {"type": ["string", "null"]},
                                "notes": {"type": "array", "items": {"type": "string"}},
                            },
                        },
                    },
                },
                "Problem": {
                    "type": "object",
                    "required": ["type", "title", "status", "detail"],
                    "properties": {
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "detail": {"type": "string"},
                        "instance": {"type": "string"},
                    },
                },
            },
            "responses": {
                "Problem": {
                    "description": "An RFC 9457 problem",
                    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
                }
            },
        },
    }


def date_range(params: dict[str, Any], *, max_days: int | None = None) -> tuple[date | None, date | None]:
    """`start`/`end` checked: in order, and not longer than `max_days` when given."""
    start, end = params.get("start"), params.get("end")
    if start and end and start > end:
        raise bad_request(f"start {start} is after end {end}")
    if max_days is not None and start and end and (end - start) > timedelta(days=max_days):
        raise Problem(
            400, "range-too-large", "Range too large", f"at most {max_days} days per request; use a shorter range"
        )
    return start, end
