"""Structured logs: one JSON object per line (or readable text on a terminal), context fields, secrets never shown."""

from __future__ import annotations

import io
import json
import logging
import threading
from datetime import datetime

import pytest

from store import logs
from store.settings import Settings, get_settings

SECRETS = {
    "FRED_API_KEY": "fred-key-4bX9qL2mZ7",
    "ALPHAVANTAGE_API_KEY": "av-key-Q8wE3rT6yU",
    "AUTH_SECRET": "auth-secret-Zp4Kq9Lm2Xn7Vb5Wc8Rt3Ys6Ud1Hf0Jg",
    "TERMINAL_PASSWORD": "terminal-Pw-7Hs2Kd9Lq",
    "METRICS_TOKEN": "metrics-token-Mt5Nb8Vc",
}
WATCHED = ("streamlit", "streamlit.test_child", "uvicorn", "uvicorn.error", "uvicorn.access", *logs.QUIET_LOGGERS)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def isolated_logging():
    """Undo what setup_logging does to the process's loggers (root handlers, levels, filters, propagation)."""
    root = logging.getLogger()
    saved_root = (list(root.handlers), root.level, list(root.filters))
    saved = {
        name: (list(lg.handlers), lg.level, lg.propagate, list(lg.filters))
        for name in WATCHED
        for lg in [logging.getLogger(name)]
    }
    yield
    for handler in root.handlers:
        if handler not in saved_root[0]:
            root.removeHandler(handler)
    for handler in saved_root[0]:
        for f in [f for f in handler.filters if isinstance(f, logs.RedactSecrets | logs.QuietStaticAccess)]:
            handler.removeFilter(f)
    root.handlers[:] = saved_root[0]
    root.setLevel(saved_root[1])
    for name, (handlers, level, propagate, filters) in saved.items():
        lg = logging.getLogger(name)
        lg.handlers[:] = handlers
        lg.setLevel(level)
        lg.propagate = propagate
        lg.filters[:] = filters
    logs.clear_context()
    get_settings.cache_clear()


def configure(log_format: str = "json", stream: io.StringIO | None = None, **settings) -> io.StringIO:
    stream = stream if stream is not None else io.StringIO()
    logs.setup_logging(Settings(log_format=log_format, **settings), stream=stream)
    return stream


def json_lines(stream: io.StringIO) -> list[dict]:
    lines = stream.getvalue().splitlines()
    return [json.loads(line) for line in lines]


def test_a_record_with_context_extra_and_an_exception_is_one_json_object_per_line():
    out = configure("json")
    log = logging.getLogger("ingestion.worker")
    with logs.log_context(job="prices", run_id=42, user="alice"):
        try:
            raise ValueError("bad payload\nsecond line")
        except ValueError:
            log.exception("run %s failed", 42, extra={"symbols": ["AAPL", "MSFT"], "attempt": 2})
    log.info("after the block")
    first, second = json_lines(out)
    assert first["level"] == "ERROR" and first["logger"] == "ingestion.worker" and first["message"] == "run 42 failed"
    assert (first["job"], first["run_id"], first["user"]) == ("prices", 42, "alice")
    assert first["symbols"] == ["AAPL", "MSFT"] and first["attempt"] == 2
    assert first["exception"].startswith("Traceback") and "ValueError: bad payload\nsecond line" in first["exception"]
    stamp = datetime.fromisoformat(first["timestamp"].replace("Z", "+00:00"))
    assert first["timestamp"].endswith("Z") and stamp.utcoffset().total_seconds() == 0
    assert list(first)[:4] == ["timestamp", "level", "logger", "message"]
    assert "job" not in second and second["message"] == "after the block"  # the context ended with the block


def test_configured_secrets_never_appear_in_message_extra_fields_or_traceback(monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LOG_FORMAT", "json")
    get_settings.cache_clear()
    out = io.StringIO()
    logs.setup_logging(get_settings(), stream=out)
    log = logging.getLogger("ingestion.providers.fred")

    class Leaky:
        def __str__(self) -> str:
            return f"object holding {SECRETS['ALPHAVANTAGE_API_KEY']}"

    with logs.log_context(task_id=SECRETS["METRICS_TOKEN"]):
        try:
            try:
                raise ConnectionError(f"GET https://api.example/fred?api_key={SECRETS['FRED_API_KEY']} refused")
            except ConnectionError as inner:
                raise RuntimeError(
                    f"auth {SECRETS['AUTH_SECRET']} and password {SECRETS['TERMINAL_PASSWORD']}"
                ) from inner
        except RuntimeError:
            log.exception(
                "fetch failed with key %s",
                SECRETS["FRED_API_KEY"],
                extra={
                    "url": f"https://x/?apikey={SECRETS['ALPHAVANTAGE_API_KEY']}",
                    "nested": {"keys": [SECRETS["FRED_API_KEY"]], SECRETS["AUTH_SECRET"]: 1},
                    "leaky": Leaky(),
                },
            )
    log.warning("stack", stack_info=True, extra={"token": SECRETS["METRICS_TOKEN"]})
    text = out.getvalue()
    for value in SECRETS.values():
        assert value not in text
    record = json_lines(out)[0]
    assert record["message"] == "fetch failed with key ***"
    assert record["url"] == "https://x/?apikey=***" and record["nested"] == {"keys": ["***"], "***": 1}
    assert record["leaky"] == "object holding ***" and record["task_id"] == "***"
    assert "ConnectionError" in record["exception"] and "RuntimeError: auth *** and password ***" in record["exception"]

    # The same in the text format, and in the record handed to any other handler (e.g. pytest's capture).
    text_out = configure("text")
    log.error("key=%s", SECRETS["FRED_API_KEY"], exc_info=RuntimeError(SECRETS["AUTH_SECRET"]))
    assert SECRETS["FRED_API_KEY"] not in text_out.getvalue() and SECRETS["AUTH_SECRET"] not in text_out.getvalue()
    assert "key=***" in text_out.getvalue()


def test_text_on_a_terminal_json_otherwise_with_auto():
    tty = configure("auto", Terminal())
    with logs.log_context(job="macro", run_id=7):
        logging.getLogger("ingestion.jobs").warning("slow: %d s", 12)
    line = tty.getvalue().strip()
    assert not line.startswith("{")
    assert line.endswith("WARNING ingestion.jobs: slow: 12 s [job=macro run_id=7]")

    piped = configure("auto", io.StringIO())
    logging.getLogger("ingestion.jobs").warning("slow")
    assert json_lines(piped)[0]["message"] == "slow"
    forced = configure("text", io.StringIO())
    logging.getLogger("x").info("hello")
    assert " INFO x: hello" in forced.getvalue()
    forced_json = configure("json", Terminal())
    logging.getLogger("x").info("hello")
    assert json_lines(forced_json)[0]["message"] == "hello"


def test_a_traceback_in_text_keeps_the_context_on_the_first_line():
    out = configure("text", Terminal())
    with logs.log_context(job="prices"):
        try:
            raise KeyError("k")
        except KeyError:
            logging.getLogger("x").exception("failed")
    first, *rest = out.getvalue().splitlines()
    assert first.endswith("ERROR x: failed [job=prices]") and rest[0].startswith("Traceback")


def access(path: str) -> None:
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "10.0.0.1:5000", "GET", path, "1.1", 200)


def test_static_access_lines_are_dropped_at_the_default_level():
    out = configure("json")
    for path in ("/static/js/index.js", "/_stcore/health", "/media/abc.png", "/healthz", "/metrics?x=1", "/"):
        access(path)
    assert [r["message"].split('"')[1] for r in json_lines(out)] == [
        "GET /healthz HTTP/1.1",
        "GET /metrics?x=1 HTTP/1.1",
        "GET / HTTP/1.1",
    ]
    # The filter sits on the logger too: it survives uvicorn's dictConfig, which replaces the logger's handlers.
    assert any(isinstance(f, logs.QuietStaticAccess) for f in logging.getLogger("uvicorn.access").filters)


def test_static_access_lines_show_at_debug():
    out = configure("json", log_level="DEBUG")
    access("/static/js/index.js")
    assert len(json_lines(out)) == 1


def test_the_access_filter_itself():
    quiet = logs.QuietStaticAccess()
    make = lambda name, args: logging.LogRecord(name, logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d', args, None)  # noqa: E731
    assert not quiet.filter(make("uvicorn.access", ("c", "GET", "/static/a.css", "1.1", 200)))
    assert quiet.filter(make("uvicorn.access", ("c", "GET", "/auth/session", "1.1", 302)))
    assert quiet.filter(make("other", ("c", "GET", "/static/a.css", "1.1", 200)))  # only uvicorn's access lines
    assert logs.QuietStaticAccess(verbose=True).filter(make("uvicorn.access", ("c", "GET", "/static/a", "1.1", 200)))


def test_setup_is_idempotent_and_quietens_noisy_loggers():
    out = configure("json")
    configure("json", out)
    logs.setup_logging(Settings(log_format="json"))
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "_market_desk", False)]
    assert len(ours) == 1
    for handler in root.handlers:
        assert sum(isinstance(f, logs.RedactSecrets) for f in handler.filters) == 1
    assert sum(isinstance(f, logs.QuietStaticAccess) for f in ours[0].filters) == 1
    assert sum(isinstance(f, logs.QuietStaticAccess) for f in logging.getLogger("uvicorn.access").filters) == 1
    for noisy in logs.QUIET_LOGGERS:
        assert logging.getLogger(noisy).level == logging.WARNING
    logging.getLogger("once").info("one line")
    assert len(json_lines(out)) == 1


def test_the_level_applies_to_every_logger_routed_here():
    out = configure("json", log_level="WARNING")
    logging.getLogger("any").info("hidden")
    logging.getLogger("any").warning("shown")
    assert [r["message"] for r in json_lines(out)] == ["shown"]
    with pytest.raises(ValueError, match="LOG_LEVEL"):
        configure("json", log_level="LOUD")


def test_streamlit_and_uvicorn_console_loggers_are_adopted():
    child = logging.getLogger("streamlit.test_child")
    console = logging.StreamHandler(io.StringIO())
    child.addHandler(console)
    child.propagate = False
    server = logging.getLogger("uvicorn")
    server.addHandler(logging.StreamHandler(io.StringIO()))
    server.propagate = False
    error_logger = logging.getLogger("uvicorn.error")
    error_logger.handlers[:] = []
    error_logger.propagate = False  # as Streamlit's get_logger left it once uvicorn's dictConfig took its handler
    access_logger = logging.getLogger("uvicorn.access")
    access_logger.handlers[:] = []
    access_logger.propagate = False  # the server switched access lines off: they stay off
    out = configure("json")
    assert console not in child.handlers and child.propagate
    assert server.propagate and not server.handlers and error_logger.propagate
    assert not access_logger.propagate
    child.warning("from streamlit")
    logging.getLogger("uvicorn.error").info("Started server process")
    records = json_lines(out)
    assert [(r["logger"], r["message"]) for r in records] == [
        ("streamlit.test_child", "from streamlit"),
        ("uvicorn.error", "Started server process"),
    ]
    assert console.stream.getvalue() == ""


def test_context_helpers():
    assert logs.current_context() == {}
    logs.bind(job="prices", task_id=3)
    with logs.log_context(run_id=9, task_id=None):
        assert logs.current_context() == {"job": "prices", "run_id": 9}
        with logs.log_context(user="bob"):
            assert logs.current_context() == {"job": "prices", "run_id": 9, "user": "bob"}
        assert "user" not in logs.current_context()
    assert logs.current_context() == {"job": "prices", "task_id": 3}
    seen = {}
    thread = threading.Thread(target=lambda: seen.update(logs.current_context()))
    thread.start()
    thread.join()
    assert seen == {}  # a new thread starts with an empty context
    logs.unbind("task_id")
    assert logs.current_context() == {"job": "prices"}
    logs.clear_context()
    assert logs.current_context() == {}


def test_an_explicit_extra_wins_over_the_bound_context_and_other_fields_are_kept():
    out = configure("json")
    with logs.log_context(job="prices", queue="ingest"):
        logging.getLogger("x").info("m", extra={"job": "macro"})
    record = json_lines(out)[0]
    assert record["job"] == "macro" and record["queue"] == "ingest"


def test_values_json_cannot_encode_become_text():
    out = configure("json")
    logging.getLogger("x").info("m", extra={"ratio": float("nan"), "when": datetime(2026, 1, 2, 3, 4), "raw": b"x"})
    record = json_lines(out)[0]
    assert record["ratio"] == "nan" and record["when"] == "2026-01-02T03:04:00" and record["raw"] == "b'x'"


def test_the_redaction_filter_never_raises_on_a_broken_format_string():
    record = logging.LogRecord("x", logging.INFO, "", 0, "%d items", ("not a number",), None)
    assert logs.RedactSecrets().filter(record) is True
    assert record.args == ("not a number",)  # left for the formatter, which reports it through handleError


def test_a_new_stream_replaces_one_that_was_closed():
    old = io.StringIO()
    configure("json", old)
    old.close()  # e.g. a captured stderr that is gone
    new = configure("json", io.StringIO())
    logging.getLogger("x").info("still logging")
    assert json_lines(new)[0]["message"] == "still logging"
