"""yfinance provider at its download/Ticker boundary, with frames built from recorded Yahoo data."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from datetime import date

import pandas as pd
import pytest
import yfinance as yf
from curl_cffi.requests.exceptions import DNSError
from yfinance.exceptions import YFRateLimitError

from ingestion.providers.base import NoNetwork, NotFound, RateLimited, failures_of
from ingestion.providers.resilience import GuardPolicy, NetworkCheck, ProviderGuard
from ingestion.providers.yahoo import HOST, NAME, YahooProvider, daily_bars_from_download, looks_offline
from tests.support.yahoo import FakeDownload, FakeTicker, combine, intraday_frame, per_ticker_frames


def fast_guard() -> ProviderGuard:
    return ProviderGuard("yfinance", None, policy=GuardPolicy(attempts=3, backoff_initial=0), sleep=lambda s: None)


@pytest.fixture
def download(monkeypatch: pytest.MonkeyPatch) -> FakeDownload:
    fake = FakeDownload()
    monkeypatch.setattr(yf, "download", fake)
    monkeypatch.setattr(yf, "Ticker", FakeTicker)
    return fake


def test_daily_bars_keep_raw_and_adjusted_close(download: FakeDownload) -> None:
    bars = YahooProvider(guard=fast_guard()).daily_bars(["AAPL", "MSFT"], date(2020, 8, 31), date(2020, 11, 6))
    call = download.calls[0]
    assert call["auto_adjust"] is False and call["actions"] is True and sorted(call["tickers"]) == ["AAPL", "MSFT"]
    assert call["end"] == date(2020, 11, 7)  # yfinance's end is exclusive, ours inclusive
    aapl = bars[bars["symbol"] == "AAPL"].set_index("date")
    assert len(aapl) == 49 and aapl.index.min() == date(2020, 8, 31) and aapl.index.max() == date(2020, 11, 6)
    # Yahoo's close is split-adjusted only; the recorded adjusted close also takes later dividends out.
    assert aapl.loc[date(2020, 8, 31), "close"] == pytest.approx(129.039993)
    assert aapl.loc[date(2020, 8, 31), "adj_close"] == pytest.approx(125.826736)
    assert (aapl["adj_close"] < aapl["close"]).all()
    assert aapl.loc[date(2020, 8, 31), "volume"] == 225_702_700
    assert failures_of(bars) == {}


def test_failed_ticker_is_reported_with_yahoos_reason_and_others_continue(download: FakeDownload) -> None:
    bars = YahooProvider(guard=fast_guard()).daily_bars(["AAPL", "ZZZZ"], date(2020, 8, 31), date(2020, 11, 6))
    assert set(bars["symbol"]) == {"AAPL"}
    assert "possibly delisted" in failures_of(bars)["ZZZZ"]


def test_nan_columns_are_a_failure_even_without_a_log_line() -> None:
    frame = combine({"AAPL": per_ticker_frames()["AAPL"], "GONE": None})
    bars, empty = daily_bars_from_download(frame, ["AAPL", "GONE"])
    assert empty == ["GONE"] and set(bars["symbol"]) == {"AAPL"}


def test_partial_nan_rows_are_kept_for_validation_but_padding_rows_are_dropped() -> None:
    frames = per_ticker_frames()
    aapl = frames["AAPL"].copy()
    aapl.loc["2020-09-01", "High"] = float("nan")
    bars, _ = daily_bars_from_download(combine({"AAPL": aapl, "MSFT": frames["MSFT"]}), ["AAPL"])
    # MSFT's extra sessions pad AAPL with all-NaN rows: gone. AAPL's own missing high: kept.
    assert len(bars) == 49 and bars["high"].isna().sum() == 1


def test_all_unknown_raises_not_found_naming_each(download: FakeDownload) -> None:
    with pytest.raises(NotFound) as caught:
        YahooProvider(guard=fast_guard()).daily_bars(["ZZZZ", "QQQQX"], date(2020, 8, 31), None)
    assert set(caught.value.failures) == {"ZZZZ", "QQQQX"} and "ZZZZ" in str(caught.value)


def test_rate_limit_error_becomes_rate_limited_and_is_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def limited(tickers, **kwargs):
        calls.append(tickers)
        raise YFRateLimitError()

    monkeypatch.setattr(yf, "download", limited)
    with pytest.raises(RateLimited, match="Too Many Requests"):
        YahooProvider(guard=fast_guard()).daily_bars(["AAPL"], None, None)
    assert len(calls) == 3  # the guard's attempts


def test_every_ticker_rate_limited_inside_download_is_rate_limited(monkeypatch: pytest.MonkeyPatch) -> None:
    reason = "YFRateLimitError('Too Many Requests. Rate limited. Try after a while.')"
    monkeypatch.setattr(yf, "download", FakeDownload(frames={}, reasons={"AAPL": reason, "MSFT": reason}))
    with pytest.raises(RateLimited):
        YahooProvider(guard=fast_guard()).daily_bars(["AAPL", "MSFT"], None, None)


def test_batches_respect_the_batch_size(download: FakeDownload) -> None:
    bars = YahooProvider(batch_size=1, guard=fast_guard()).daily_bars(["AAPL", "MSFT"], date(2020, 9, 1), None)
    assert [c["tickers"] for c in download.calls] == [["AAPL"], ["MSFT"]]
    assert set(bars["symbol"]) == {"AAPL", "MSFT"}


def test_corporate_actions_split_and_dividend(download: FakeDownload) -> None:
    actions = YahooProvider(guard=fast_guard()).corporate_actions(["AAPL"], date(2020, 8, 1), date(2020, 12, 31))
    assert actions.to_dict("records") == [
        {"symbol": "AAPL", "date": date(2020, 8, 31), "action": "split", "value": 4.0},
        {"symbol": "AAPL", "date": date(2020, 11, 6), "action": "dividend", "value": 0.205},
    ]


def test_instruments_from_ticker_info(download: FakeDownload) -> None:
    frame = YahooProvider(guard=fast_guard()).instruments(["AAPL", "SPY", "NOPE"])
    records = frame.set_index("symbol")
    assert records.loc["AAPL", "name"] == "Apple Inc." and records.loc["AAPL", "asset_class"] == "stock"
    assert records.loc["AAPL", "sector"] == "Information Technology" and records.loc["AAPL", "currency"] == "USD"
    assert records.loc["SPY", "asset_class"] == "etf"
    assert "NOPE" in failures_of(frame)


def test_shares_outstanding_history_one_figure_per_day(download: FakeDownload) -> None:
    shares = YahooProvider(guard=fast_guard()).shares_outstanding(["AAPL"], None, None)
    assert not shares.duplicated(["symbol", "period_end"]).any()
    first = shares.iloc[0]
    assert first["period_end"] == date(2024, 10, 10) and first["shares"] == 15_204_099_609
    # Yahoo dates a figure by when it recorded it: public from that day (point in time).
    assert (shares["filing_date"] == shares["period_end"]).all()
    assert shares["shares"].dtype == "int64"


def test_intraday_quotes_are_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}

    def fake(tickers, **kwargs):
        seen.update(kwargs)
        return intraday_frame(list(tickers))

    monkeypatch.setattr(yf, "download", fake)
    quotes = YahooProvider(guard=fast_guard()).intraday_quotes(["AAPL"])
    assert seen["interval"] == "5m"
    assert str(quotes["ts"].dt.tz) == "UTC"
    assert quotes["ts"].iloc[0] == pd.Timestamp("2020-11-06 14:30", tz="UTC")  # 09:30 New York
    assert len(quotes) == 4 and quotes["price"].iloc[-1] == pytest.approx(118.69)


def test_a_bad_symbol_fails_alone_and_is_never_sent(download: FakeDownload) -> None:
    bars = YahooProvider(guard=fast_guard()).daily_bars(["AAPL", "AAPL;DROP"], None, None)
    assert set(bars["symbol"]) == {"AAPL"}
    assert "may contain only" in failures_of(bars)["AAPL;DROP"]
    assert all("DROP" not in " ".join(call["tickers"]) for call in download.calls)


def test_the_arguments_we_pass_fit_the_real_download_signature(download: FakeDownload) -> None:
    import inspect

    from yfinance.multi import download as real_download

    provider = YahooProvider(guard=fast_guard())
    provider.daily_bars(["AAPL"], date(2020, 9, 1), date(2020, 9, 30))
    provider.daily_bars(["AAPL"], None, None)
    for call in download.calls:
        kwargs = {k: v for k, v in call.items() if k != "tickers"}
        inspect.signature(real_download).bind(call["tickers"], **kwargs)  # raises TypeError on a drift
    assert download.calls[1]["period"] == "max"


class _HistoryTicker:
    """Stands in for the Ticker that yfinance's real download() builds per symbol (no network)."""

    def __init__(self, symbol: str, *args, **kwargs) -> None:
        self.symbol = symbol.upper()
        self._price_history = None

    def history(self, **kwargs) -> pd.DataFrame:
        from yfinance.exceptions import YFPricesMissingError

        frames = per_ticker_frames()
        if self.symbol not in frames:
            raise YFPricesMissingError(self.symbol, "(1d 2020-08-31 -> 2020-11-07)")
        frame = frames[self.symbol].loc["2020-08-31":"2020-11-06"]
        frame.index = frame.index.tz_localize("America/New_York")  # history() returns exchange time
        return frame


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # inside yfinance 1.7 on pandas 3.1
def test_through_yfinances_real_download_and_its_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    import yfinance.multi

    monkeypatch.setattr(yfinance.multi, "Ticker", _HistoryTicker)
    bars = YahooProvider(guard=fast_guard()).daily_bars(["AAPL", "MSFT", "ZZZZ"], date(2020, 8, 31), date(2020, 11, 6))
    assert set(bars["symbol"]) == {"AAPL", "MSFT"} and len(bars[bars["symbol"] == "AAPL"]) == 49
    assert "possibly delisted" in failures_of(bars)["ZZZZ"]


def test_rate_limit_from_ticker_info(monkeypatch: pytest.MonkeyPatch) -> None:
    class Limited:
        def __init__(self, symbol: str) -> None:
            pass

        @property
        def info(self):
            raise YFRateLimitError()

    monkeypatch.setattr(yf, "Ticker", Limited)
    with pytest.raises(RateLimited):
        YahooProvider(guard=fast_guard()).instruments(["AAPL"])


# -- no network -------------------------------------------------------------------------------------------------
DNS_FAILURE = (
    "Failed to perform, curl: (6) Could not resolve host: query2.finance.yahoo.com. "
    "See https://curl.se/libcurl/c/libcurl-errors.html first for more details."
)


def checked_guard(resolves: bool) -> ProviderGuard:
    """A fast guard with the network check the real provider gets; the look-up answers `resolves`."""

    def resolve(*args, **kwargs):
        if not resolves:
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 443))]

    check = NetworkCheck(NAME, HOST, resolve=resolve)
    policy = GuardPolicy(attempts=3, backoff_initial=0, fail_max=2)
    return ProviderGuard(NAME, None, policy=policy, sleep=lambda s: None, network=check)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def root_records() -> Iterator[list[logging.LogRecord]]:
    """What reaches a handler on the root logger, as the app's console handler (caplog cannot tell: pytest also
    attaches its handler to every logger that does not propagate)."""
    handler, root = _Collect(), logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    yield handler.records
    root.removeHandler(handler)
    root.setLevel(level)


def yfinance_records(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    return [r for r in records if r.name.startswith("yfinance") or r.levelno >= logging.ERROR]


class _OfflineTicker(_HistoryTicker):
    """The Ticker yfinance's real download() builds, on a machine whose resolver knows no Yahoo."""

    def history(self, **kwargs) -> pd.DataFrame:
        raise DNSError(DNS_FAILURE, 6)


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # inside yfinance 1.7 on pandas 3.1
def test_dns_failures_inside_yfinances_real_download_are_no_network_and_stay_off_the_console(
    monkeypatch: pytest.MonkeyPatch, root_records: list[logging.LogRecord], capfd: pytest.CaptureFixture
) -> None:
    import yfinance.multi

    monkeypatch.setattr(yfinance.multi, "Ticker", _OfflineTicker)
    guard = checked_guard(resolves=True)  # the look-up answered a moment ago; the requests cannot resolve
    with pytest.raises(NoNetwork) as caught:
        YahooProvider(guard=guard).daily_bars(["AAPL", "MSFT", "ZZZZ"], date(2020, 8, 31), date(2020, 11, 6))
    assert str(caught.value).startswith(f"yfinance: no network: could not resolve {HOST} (DNSError(")
    assert "See https://" not in str(caught.value) and "delisted" not in str(caught.value)
    # yfinance's ERROR lines reached no handler of ours above DEBUG; they are in this module's DEBUG lines.
    assert yfinance_records(root_records) == [] and "Failed download" not in capfd.readouterr().err
    demoted = [r for r in root_records if r.name == "ingestion.providers.yahoo" and r.levelno == logging.DEBUG]
    assert any("Could not resolve host" in r.getMessage() for r in demoted)
    # Not retried, not counted by the breaker, and the next call is refused without a download.
    assert guard.state()["requests"] == 1 and guard.state()["consecutive_failures"] == 0
    monkeypatch.setattr(yf, "download", lambda *a, **k: pytest.fail("asked again while offline"))
    with pytest.raises(NoNetwork):
        YahooProvider(guard=guard).daily_bars(["AAPL"], date(2020, 8, 31), date(2020, 11, 6))


def test_a_failed_tickers_log_line_stays_off_the_root_logger(
    download: FakeDownload, root_records: list[logging.LogRecord], capfd: pytest.CaptureFixture
) -> None:
    bars = YahooProvider(guard=fast_guard()).daily_bars(["AAPL", "ZZZZ"], date(2020, 8, 31), date(2020, 11, 6))
    assert "possibly delisted" in failures_of(bars)["ZZZZ"]  # still captured for the run record
    assert yfinance_records(root_records) == [] and "possibly delisted" not in capfd.readouterr().err


def test_download_raising_a_dns_error_is_no_network_and_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def offline(tickers, **kwargs):
        calls.append(tickers)
        raise DNSError(DNS_FAILURE, 6)

    monkeypatch.setattr(yf, "download", offline)
    guard = fast_guard()
    with pytest.raises(NoNetwork, match="no network: could not resolve"):
        YahooProvider(guard=guard).daily_bars(["AAPL", "MSFT"], None, None)
    assert len(calls) == 1 and guard.state()["errors"] == {"no_network": 1}


@pytest.mark.parametrize(("resolves", "expected"), [(False, NoNetwork), (True, NotFound)])
def test_no_timezone_found_for_every_ticker_is_no_network_only_when_the_host_does_not_resolve(
    monkeypatch: pytest.MonkeyPatch, resolves: bool, expected: type[Exception]
) -> None:
    """yfinance says "possibly delisted; no timezone found" when its first request failed for any reason: a fresh
    look-up of the host tells the network from the tickers."""
    reason = "possibly delisted; no timezone found"
    monkeypatch.setattr(yf, "download", FakeDownload(frames={}, reasons={"AAPL": reason, "MSFT": reason}))
    with pytest.raises(expected) as caught:
        YahooProvider(guard=checked_guard(resolves)).daily_bars(["AAPL", "MSFT"], None, None)
    assert ("delisted" in str(caught.value)) is resolves


def test_one_delivered_ticker_means_the_network_is_there(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yf, "download", FakeDownload(reasons={"ZZZZ": f"DNSError('{DNS_FAILURE}')"}))
    bars = YahooProvider(guard=checked_guard(resolves=True)).daily_bars(
        ["AAPL", "ZZZZ"], date(2020, 8, 31), date(2020, 11, 6)
    )
    assert set(bars["symbol"]) == {"AAPL"} and "ZZZZ" in failures_of(bars)


@pytest.mark.parametrize(
    ("text", "offline"),
    [
        (f"DNSError('{DNS_FAILURE}')", True),
        ("[Errno -3] Temporary failure in name resolution", True),
        ("Failed to perform, curl: (7) Failed to connect to query2.finance.yahoo.com port 443", True),
        ("possibly delisted; no price data found  (1d 2020-08-31 -> 2020-11-07)", False),
        ("YFRateLimitError('Too Many Requests. Rate limited. Try after a while.')", False),
    ],
)
def test_looks_offline(text: str, offline: bool) -> None:
    assert looks_offline(text) is offline
