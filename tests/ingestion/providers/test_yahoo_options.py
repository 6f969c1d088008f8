"""yfinance option chains at the Ticker boundary, from recorded Yahoo v7 options bodies (no network).

The bodies (tests/fixtures/api_samples/yahoo_options_*.json, see SOURCES.md) were captured on Monday
2025-02-24 at 09:24 GMT, before the US open: Yahoo lists every expiry but sends the chain of the first one
only, most bid/ask are 0/0 and many IVs are Yahoo's 1e-05 placeholder. That is what the provider must keep.
`RecordedTicker` stands in for `yf.Ticker` and builds its frames the way yfinance 1.7's `Ticker.option_chain`
does (`_options2df`); one test runs yfinance's real Ticker over the same bodies to keep the two in step.
"""

from __future__ import annotations

import json
import math
from collections import namedtuple
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yfinance as yf
from yfinance.exceptions import YFRateLimitError

from ingestion.datasets import OPTION_QUOTES
from ingestion.providers.base import NotFound, RateLimited, failures_of
from ingestion.providers.resilience import BudgetExhausted, GuardPolicy, ProviderGuard, per_minute
from ingestion.providers.yahoo import YahooProvider, option_quotes_from_chain
from ingestion.validate import validate_option_quotes
from store import clock

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "api_samples"
BODIES = {"AAPL": "yahoo_options_AAPL.json", "AMZN": "yahoo_options_AMZN.json", "QQQ": "yahoo_options_v7_QQQ.json"}
CAPTURED = datetime(2025, 2, 24, 9, 24, 42, tzinfo=UTC)  # the recorded exchanges' Date header
SESSION = date(2025, 2, 24)  # New York's date at that moment (04:24 EST)
# The session those chains belong to: before Monday's open a read shows Friday's close (spot 245.55 is that close).
READ_SESSION = date(2025, 2, 21)
# yfinance 1.7 ticker.py `_options2df`: the columns it keeps, in its order.
YF_COLUMNS = [
    "contractSymbol",
    "lastTradeDate",
    "strike",
    "lastPrice",
    "bid",
    "ask",
    "change",
    "percentChange",
    "volume",
    "openInterest",
    "impliedVolatility",
    "inTheMoney",
    "contractSize",
    "currency",
]
Options = namedtuple("Options", ["calls", "puts", "underlying"])


def result(symbol: str) -> dict[str, Any]:
    return json.loads((FIXTURES / BODIES[symbol]).read_text())["optionChain"]["result"][0]


def label(epoch: int) -> str:
    """How yfinance names an expiry (`_download_options`)."""
    return pd.Timestamp(epoch, unit="s").strftime("%Y-%m-%d")


def options2df(contracts: list[dict[str, Any]]) -> pd.DataFrame:
    """yfinance's `Ticker._options2df` (tz=None)."""
    data = pd.DataFrame(contracts).reindex(columns=YF_COLUMNS)
    data["lastTradeDate"] = pd.to_datetime(data["lastTradeDate"], unit="s", utc=True)
    return data


def recorded_chain(symbol: str) -> tuple[str, Options]:
    """The recorded expiry's label and its chain as `Ticker.option_chain(label)` returns it."""
    body = result(symbol)
    chain = body["options"][0]
    return label(chain["expirationDate"]), Options(options2df(chain["calls"]), options2df(chain["puts"]), body["quote"])


def contracts(symbol: str) -> dict[str, dict[str, Any]]:
    chain = result(symbol)["options"][0]
    return {c["contractSymbol"]: c for c in chain["calls"] + chain["puts"]}


class RecordedTicker:
    """Stands in for yf.Ticker: `.options` and `.option_chain(date)` from the recorded bodies.

    An unknown symbol lists no expiries (Yahoo's empty `result`). A listed expiry other than the recorded one
    comes back as yfinance returns a body without options: calls, puts and underlying all None.
    """

    made: list[str] = []
    chains: list[tuple[str, str]] = []

    def __init__(self, symbol: str) -> None:
        self.ticker = symbol.upper()
        RecordedTicker.made.append(self.ticker)

    @property
    def options(self) -> tuple[str, ...]:
        if self.ticker not in BODIES:
            return ()
        return tuple(label(e) for e in result(self.ticker)["expirationDates"])

    def option_chain(self, date: str | None = None, tz: Any = None) -> Options:
        RecordedTicker.chains.append((self.ticker, str(date)))
        if date not in self.options:
            raise ValueError(f"Expiration `{date}` cannot be found. Available expirations are: [...]")
        expiry, chain = recorded_chain(self.ticker)
        return chain if date == expiry else Options(None, None, None)


@pytest.fixture(autouse=True)
def at_capture(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test reads the chains at the moment they were recorded, with fresh call logs."""
    monkeypatch.setattr(clock, "now", lambda: CAPTURED)
    monkeypatch.setattr(RecordedTicker, "made", [])
    monkeypatch.setattr(RecordedTicker, "chains", [])


@pytest.fixture
def ticker(monkeypatch: pytest.MonkeyPatch) -> type[RecordedTicker]:
    monkeypatch.setattr(yf, "Ticker", RecordedTicker)
    return RecordedTicker


def provider(**kwargs: Any) -> YahooProvider:
    guard = ProviderGuard("yfinance", None, policy=GuardPolicy(attempts=3, backoff_initial=0), sleep=lambda s: None)
    return YahooProvider(guard=guard, **kwargs)


def row(quotes: pd.DataFrame, symbol: str, kind: str, strike: float) -> pd.Series:
    match = quotes[(quotes["symbol"] == symbol) & (quotes["type"] == kind) & (quotes["strike"] == strike)]
    assert len(match) == 1
    return match.iloc[0]


# -- the pure transform ----------------------------------------------------------------------------------
def test_transform_keeps_every_recorded_contract_as_published() -> None:
    _, chain = recorded_chain("AAPL")
    quotes = option_quotes_from_chain(
        "AAPL", date(2025, 2, 28), chain.calls, chain.puts, 245.55, SESSION, pd.Timestamp(CAPTURED)
    )
    assert list(quotes.columns) == OPTION_QUOTES.columns
    assert len(quotes) == 54 + 48 and (quotes["type"] == "C").sum() == 54
    recorded = contracts("AAPL")

    deep = row(quotes, "AAPL", "C", 110.0)  # the one contract the pre-market capture has a quote for
    source = recorded["AAPL250228C00110000"]
    assert (deep["bid"], deep["ask"], deep["last"]) == (source["bid"], source["ask"], source["lastPrice"])
    assert (deep["bid"], deep["ask"], deep["last"]) == (135.9, 136.65, 111.67)
    assert deep["provider_iv"] == pytest.approx(3.58593853515625)
    assert deep["volume"] is pd.NA  # no `volume` key in the body
    assert deep["open_interest"] == 0
    assert deep["last_trade_ts"] == pd.Timestamp(1737487202, unit="s", tz="UTC")

    atm = row(quotes, "AAPL", "C", 245.0)  # 0/0: not quoted, kept as 0.0 as Yahoo sent it
    assert (atm["bid"], atm["ask"], atm["last"]) == (0.0, 0.0, 3.45)
    assert atm["volume"] == 16227 and atm["provider_iv"] == pytest.approx(1e-05)
    assert atm["last_trade_ts"] == pd.Timestamp("2025-02-21 20:59:58", tz="UTC")

    put = row(quotes, "AAPL", "P", 240.0)
    assert put["last"] == 1.18 and put["provider_iv"] == pytest.approx(0.062509375) and put["volume"] == 23297

    zero_zero = (quotes["bid"] == 0) & (quotes["ask"] == 0)
    assert zero_zero.sum() == 101 and quotes["bid"].notna().all()
    assert quotes["volume"].isna().sum() == 4
    assert (quotes["expiration"] == date(2025, 2, 28)).all() and (quotes["session_date"] == SESSION).all()
    assert (quotes["underlying_price"] == 245.55).all()
    assert quotes["provider_delta"].isna().all() and quotes["delta_inconsistent"].isna().all()
    assert (quotes["snapshot_ts"] == pd.Timestamp(CAPTURED)).all()

    dtypes = quotes.dtypes.astype(str).to_dict()
    assert {c: dtypes[c] for c in ("strike", "bid", "ask", "last", "provider_iv", "provider_delta")} == dict.fromkeys(
        ("strike", "bid", "ask", "last", "provider_iv", "provider_delta"), "float64"
    )
    assert dtypes["volume"] == dtypes["open_interest"] == "Int64" and dtypes["delta_inconsistent"] == "boolean"
    assert dtypes["snapshot_ts"] == dtypes["last_trade_ts"] == "datetime64[ns, UTC]"
    assert all(type(d) is date for d in quotes["session_date"]) and all(type(d) is date for d in quotes["expiration"])

    checked = validate_option_quotes(quotes)
    assert len(checked.valid) == 102 and checked.rejected.empty


def test_transform_fills_gaps_with_na_and_leaves_bad_rows_to_validation() -> None:
    calls = pd.DataFrame(
        {
            "strike": [100.0, "n/a", 120.0],
            "lastPrice": [1.0, 2.0, float("inf")],
            "bid": [0.5, 1.0, 3.0],
            "ask": [0.6, 1.1, 2.0],  # the third: ask below bid
            "impliedVolatility": [0.2, 0.3, None],
        }
    )
    quotes = option_quotes_from_chain("XYZ", SESSION, calls, None, None, SESSION, pd.Timestamp(CAPTURED))
    assert len(quotes) == 3 and list(quotes.columns) == OPTION_QUOTES.columns
    assert quotes["volume"].isna().all() and quotes["open_interest"].isna().all()
    assert quotes["last_trade_ts"].isna().all() and str(quotes["last_trade_ts"].dtype) == "datetime64[ns, UTC]"
    assert math.isnan(quotes.loc[1, "strike"]) and math.isnan(quotes.loc[2, "last"])
    assert quotes["underlying_price"].isna().all()
    checked = validate_option_quotes(quotes)
    assert len(checked.valid) == 1
    assert list(checked.rejected["reason"]) == ["missing value", "ask below bid"]

    empty = option_quotes_from_chain("XYZ", SESSION, None, pd.DataFrame(), 1.0, SESSION, pd.Timestamp(CAPTURED))
    assert empty.empty and list(empty.columns) == OPTION_QUOTES.columns


# -- the provider ------------------------------------------------------------------------------------
def test_chains_of_two_underlyings(ticker: type[RecordedTicker]) -> None:
    quotes = provider(options_max_days=4).option_chains(["AAPL", "AMZN"])
    assert failures_of(quotes) == {}
    assert quotes.groupby("symbol").size().to_dict() == {"AAPL": 54 + 48, "AMZN": 56 + 50}
    assert ticker.chains == [("AAPL", "2025-02-28"), ("AMZN", "2025-02-28")]
    assert (quotes["session_date"] == READ_SESSION).all() and (quotes["expiration"] == date(2025, 2, 28)).all()
    assert (quotes["snapshot_ts"] == pd.Timestamp(CAPTURED)).all()
    assert quotes.groupby("symbol")["underlying_price"].unique().map(list).to_dict() == {
        "AAPL": [245.55],
        "AMZN": [216.58],
    }
    amzn = row(quotes, "AMZN", "C", 220.0)
    source = contracts("AMZN")["AMZN250228C00220000"]
    assert (amzn["bid"], amzn["ask"], amzn["last"]) == (0.0, 0.0, source["lastPrice"]) == (0.0, 0.0, 1.99)
    assert amzn["provider_iv"] == pytest.approx(source["impliedVolatility"]) and amzn["volume"] == 29326
    assert ((quotes["bid"] == 0) & (quotes["ask"] == 0)).sum() == 101 + 106
    checked = validate_option_quotes(quotes)
    assert len(checked.valid) == len(quotes) == 208 and checked.rejected.empty


def test_expiries_beyond_the_window_are_never_fetched(ticker: type[RecordedTicker]) -> None:
    quotes = provider(options_max_days=30).option_chains(["AAPL"])
    assert [expiry for _, expiry in ticker.chains] == ["2025-02-28", "2025-03-07", "2025-03-14", "2025-03-21"]
    assert len(quotes) == 102  # the other three came back without options: skipped

    ticker.chains.clear()
    quotes = provider().option_chains(["AAPL"])  # the default: 120 days, up to 2025-06-24
    assert len(ticker.chains) == 9 and ticker.chains[-1] == ("AAPL", "2025-06-20")
    assert len(result("AAPL")["expirationDates"]) == 20 and len(quotes) == 102


def test_an_expiry_on_the_session_day_is_kept(ticker: type[RecordedTicker]) -> None:
    quotes = provider(options_max_days=0).option_chains(["QQQ"])
    assert ticker.chains == [("QQQ", "2025-02-24")]
    assert len(quotes) == 78 + 102 and (quotes["expiration"] == SESSION).all()
    put = row(quotes, "QQQ", "P", 520.0)
    assert (put["bid"], put["ask"], put["last"], put["volume"]) == (0.0, 0.0, 0.88, 22558)
    assert len(validate_option_quotes(quotes).valid) == 180


def test_an_underlying_without_options_fails_alone(ticker: type[RecordedTicker]) -> None:
    quotes = provider(options_max_days=4).option_chains(["ZZZZ", "AAPL"])
    assert set(quotes["symbol"]) == {"AAPL"} and len(quotes) == 102
    assert list(failures_of(quotes)) == ["ZZZZ"] and "no listed options" in failures_of(quotes)["ZZZZ"]
    with pytest.raises(NotFound) as caught:
        provider().option_chains(["ZZZZ", "QQQQX"])
    assert set(caught.value.failures) == {"ZZZZ", "QQQQX"}


def test_no_rows_in_the_window_is_a_failure_not_silence(ticker: type[RecordedTicker]) -> None:
    # AAPL's recorded chain is 2025-02-28; from 2025-03-01 on, every listed expiry comes back empty.
    with clock.frozen(datetime(2025, 3, 1, 15, 0, tzinfo=UTC)), pytest.raises(NotFound) as caught:
        provider(options_max_days=7).option_chains(["AAPL"])
    assert "no option quotes" in caught.value.failures["AAPL"]
    assert ticker.chains == [("AAPL", "2025-03-07")]  # 2025-02-28 is before the session: not asked for


def test_a_malformed_symbol_is_never_fetched(ticker: type[RecordedTicker]) -> None:
    quotes = provider(options_max_days=4).option_chains(["AAPL", "BAD SYMBOL!"])
    assert set(quotes["symbol"]) == {"AAPL"} and list(failures_of(quotes)) == ["BAD SYMBOL!"]
    assert ticker.made and all(made == "AAPL" for made in ticker.made)


def test_an_expiry_gone_since_the_listing_is_skipped(
    ticker: type[RecordedTicker], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    listed = tuple(label(e) for e in result("AAPL")["expirationDates"])
    monkeypatch.setattr(YahooProvider, "fetch_expirations", lambda self, symbol: ("2025-02-27", *listed))
    quotes = provider(options_max_days=4).option_chains(["AAPL"])
    assert ticker.chains == [("AAPL", "2025-02-27"), ("AAPL", "2025-02-28")]
    assert len(quotes) == 102 and failures_of(quotes) == {}
    assert "2025-02-27 no longer listed" in caplog.text


def test_rate_limit_on_the_first_underlying_raises_rate_limited(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts = []

    class Limited(RecordedTicker):
        @property
        def options(self) -> tuple[str, ...]:
            attempts.append(self.ticker)
            raise YFRateLimitError()

    monkeypatch.setattr(yf, "Ticker", Limited)
    with pytest.raises(RateLimited, match="Too Many Requests"):
        provider().option_chains(["AAPL", "AMZN"])
    assert attempts == ["AAPL"] * 3  # the guard's attempts; AMZN never asked


def test_rate_limit_after_a_success_keeps_the_success(monkeypatch: pytest.MonkeyPatch) -> None:
    class LimitedOnAmzn(RecordedTicker):
        def option_chain(self, date: str | None = None, tz: Any = None) -> Options:
            if self.ticker == "AMZN":
                raise YFRateLimitError()
            return super().option_chain(date, tz)

    monkeypatch.setattr(yf, "Ticker", LimitedOnAmzn)
    quotes = provider(options_max_days=4).option_chains(["AAPL", "AMZN", "QQQ"])
    assert set(quotes["symbol"]) == {"AAPL"} and len(quotes) == 102
    failures = failures_of(quotes)
    assert set(failures) == {"AMZN", "QQQ"} and all("rate limited" in reason for reason in failures.values())


def test_a_chain_takes_two_slots_of_the_budget(ticker: type[RecordedTicker]) -> None:
    """option_chain(date) on a fresh yfinance Ticker sends two requests (the listing again, then the chain)."""
    budget = ProviderGuard("yfinance", [per_minute(5)], policy=GuardPolicy(rate_wait=0, attempts=1))
    # The listing (1) and two chains (2 + 2) fill the 5 slots; the third expiry finds no slot and is never sent.
    with pytest.raises(BudgetExhausted):
        YahooProvider(guard=budget, options_max_days=30).option_chains(["AAPL"])
    assert ticker.chains == [("AAPL", "2025-02-28"), ("AAPL", "2025-03-07")]
    tight = ProviderGuard("yfinance", [per_minute(1)], policy=GuardPolicy(rate_wait=0, attempts=1))
    assert YahooProvider(guard=tight).chain_weight == 1  # a weight above the budget would never fit


def test_yahoo_supports_option_chains() -> None:
    assert provider().supports("option_chains")
    assert provider(options_max_days=45).options_max_days == 45


def test_from_settings_reads_the_window_when_the_setting_exists() -> None:
    from store.settings import Settings

    settings = Settings()
    assert YahooProvider.from_settings(settings).options_max_days == getattr(settings, "options_max_days", 120)


# -- the same bodies through yfinance's own Ticker --------------------------------------------------------
class _Response:
    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    def json(self) -> dict[str, Any]:
        return self.body


def test_through_yfinances_real_ticker(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stand-in above and yfinance 1.7's Ticker give the provider the same records."""
    import yfinance.data

    with monkeypatch.context() as patched:
        patched.setattr(yf, "Ticker", RecordedTicker)
        expected = provider(options_max_days=30).option_chains(["AAPL", "AMZN"])

    urls: list[str] = []

    def get(self, url: str, params: Any = None, timeout: int = 30) -> _Response:
        urls.append(url)
        symbol, _, query = url.rsplit("/", 1)[1].partition("?date=")
        body = json.loads((FIXTURES / BODIES[symbol]).read_text())
        if query and int(query) != body["optionChain"]["result"][0]["options"][0]["expirationDate"]:
            body["optionChain"]["result"][0]["options"] = []  # a body without this expiry's chain
        return _Response(body)

    monkeypatch.setattr(yfinance.data.YfData, "get", get)
    quotes = provider(options_max_days=30).option_chains(["AAPL", "AMZN"])
    pd.testing.assert_frame_equal(quotes, expected)
    assert urls[0].endswith("/v7/finance/options/AAPL") and urls[2].endswith("/options/AAPL?date=1740700800")
    assert len(urls) == 2 * (1 + 2 * 4)  # per underlying: the listing, then two requests per expiry
