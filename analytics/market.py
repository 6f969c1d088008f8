"""Market analytics for the pages: ranges, symbol suggestions, displayed prices with indicators, downsampling."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from analytics import indicators

MAX_COMPARE = 8
MAX_RISK_TICKERS = 30
RANGES = ("1M", "3M", "6M", "YTD", "1Y", "5Y", "Max")
CUSTOM = "Custom"
# Options are shown as they are and are also the URL values (bound widgets put the shown text in the URL).
CHART_TYPES = ("Candlestick", "OHLC", "Line")
# code (shown, and in the URL) -> long name (legends, panel titles); order is the order shown.
INDICATORS = {
    "SMA20": "SMA 20",
    "SMA50": "SMA 50",
    "SMA200": "SMA 200",
    "EMA20": "EMA 20",
    "EMA50": "EMA 50",
    "BB": "Bollinger (20, 2σ)",
    "RSI": "RSI 14 (Wilder)",
    "MACD": "MACD (12, 26, 9)",
}
MOVING_AVERAGES = ("SMA20", "SMA50", "SMA200", "EMA20", "EMA50")
PANELS = ("RSI", "MACD")
# Beyond this many daily bars in view, candles are drawn weekly (then monthly): a 1,900-bar candle chart on a
# screen ~1,000 px wide cannot show single days anyway, and the payload shrinks fivefold.
MAX_CANDLES = 500
# Lines are downsampled with MinMaxLTTB beyond this many points per trace (peaks and troughs are kept).
MAX_LINE_POINTS = 1000


def split_symbols(text: str | None) -> list[str]:
    """Upper-cased, de-duplicated symbols from free text separated by commas or spaces (order kept)."""
    if not text:
        return []
    seen: dict[str, None] = {}
    for part in re.split(r"[,;\s]+", text.upper()):
        if part:
            seen.setdefault(part, None)
    return list(seen)


def check_symbols(wanted: Iterable[str], known: Iterable[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Split `wanted` into known symbols and unknown ones, each unknown with up to 3 close matches (difflib)."""
    known_list = sorted(set(known))
    known_set = set(known_list)
    good: list[str] = []
    unknown: dict[str, list[str]] = {}
    for symbol in wanted:
        if symbol in known_set:
            good.append(symbol)
        else:
            printable = re.sub(r"[^A-Z0-9.=^-]", "", symbol)[:16]
            unknown[symbol[:24]] = difflib.get_close_matches(printable or symbol[:16], known_list, n=3, cutoff=0.6)
    return good, unknown


def unknown_message(unknown: Mapping[str, list[str]]) -> str:
    """One readable sentence per unknown symbol with its suggestions."""
    parts = []
    for symbol, matches in unknown.items():
        hint = f" Did you mean {', '.join(matches)}?" if matches else " No similar symbol is stored."
        parts.append(f"Unknown ticker “{symbol}”.{hint}")
    return " ".join(parts)


def resolve_range(
    preset: str, last: date, first: date | None = None, start: date | None = None, end: date | None = None
) -> tuple[date, date]:
    """Start and end dates of a range preset, counted back from `last` (the latest stored bar).

    1M/3M/6M/1Y/5Y are calendar offsets; YTD starts on 1 January of `last`'s year; Max starts at `first`
    (or 1900-01-01). Custom uses `start`/`end` as given.
    """
    if preset == CUSTOM:
        if start is None or end is None:
            raise ValueError("a custom range needs a start and an end date")
        return (start, end) if start <= end else (end, start)
    ts = pd.Timestamp(last)
    offsets = {
        "1M": pd.DateOffset(months=1),
        "3M": pd.DateOffset(months=3),
        "6M": pd.DateOffset(months=6),
        "1Y": pd.DateOffset(years=1),
        "5Y": pd.DateOffset(years=5),
    }
    if preset in offsets:
        return (ts - offsets[preset]).date(), last
    if preset == "YTD":
        return date(last.year, 1, 1), last
    if preset == "Max":
        return first or date(1900, 1, 1), last
    raise ValueError(f"unknown range {preset!r}; expected one of {', '.join((*RANGES, CUSTOM))}")


# -- prices as displayed ----------------------------------------------------------------------------


def unadjusted_available(bars: pd.DataFrame) -> bool:
    """True when some stored close differs from the adjusted close, i.e. the source keeps raw prices."""
    if bars.empty:
        return False
    return bool((np.abs(bars["close"].to_numpy() / bars["adj_close"].to_numpy() - 1.0) > 1e-9).any())


def display_prices(bars: pd.DataFrame, adjusted: bool) -> pd.DataFrame:
    """OHLC for display: adjusted (open/high/low scaled by adj_close/close, close = adj_close) or as traded.

    Input: one symbol's bars (date, open, high, low, close, adj_close, volume). Output: date-indexed
    open, high, low, close (float) and volume (int as stored; float with NaN where some bar has none).
    A bar that carries only its adjusted close (open/high/low/close missing) keeps open/high/low NaN and,
    adjusted, close = adj_close (see `has_ohlc`).
    """
    dates = pd.DatetimeIndex(pd.to_datetime(bars["date"].to_numpy()), name="date")
    order = np.argsort(dates.asi8, kind="stable")  # by date (a symbol has one bar a day)
    column = {name: bars[name].to_numpy(dtype="float64", na_value=np.nan)[order] for name in _OHLC_COLUMNS}
    if adjusted:
        with np.errstate(invalid="ignore", divide="ignore"):
            factor = column["adj_close"] / column["close"]
        values = {name: column[name] * factor for name in ("open", "high", "low")} | {"close": column["adj_close"]}
    else:
        values = {name: column[name] for name in ("open", "high", "low", "close")}
    out = pd.DataFrame(values, index=dates[order])
    volume = pd.to_numeric(bars["volume"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)[order]
    out["volume"] = volume.astype("int64") if not np.isnan(volume).any() else volume
    return out


_OHLC_COLUMNS = ("open", "high", "low", "close", "adj_close")


def has_ohlc(prices: pd.DataFrame) -> bool:
    """Whether displayed prices (display_prices output) hold any open/high/low: False for a symbol whose source
    stores adjusted closes only (drawn as a line, without volume)."""
    return bool(prices[["open", "high", "low"]].notna().to_numpy().any()) if not prices.empty else False


def with_indicators(prices: pd.DataFrame, chosen: Iterable[str]) -> pd.DataFrame:
    """`prices` (display_prices output) plus one column per indicator value, computed on the close."""
    close = prices["close"]
    cols: dict[str, pd.Series] = {}
    for code in chosen:
        if code.startswith("SMA"):
            cols[code] = indicators.sma(close, int(code[3:]))
        elif code.startswith("EMA"):
            cols[code] = indicators.ema(close, int(code[3:]))
        elif code == "BB":
            bands = indicators.bollinger(close, 20, 2.0)
            cols.update({f"bb_{k}": bands[k] for k in ("upper", "middle", "lower")})
        elif code == "RSI":
            cols["rsi"] = indicators.rsi(close, 14)
        elif code == "MACD":
            m = indicators.macd(close, 12, 26, 9)
            cols.update({"macd": m["macd"], "macd_signal": m["signal"], "macd_hist": m["histogram"]})
    return prices.assign(**cols) if cols else prices


def normalise(closes_wide: pd.DataFrame) -> pd.DataFrame:
    """Each column rebased to 100 at its first observed value in the frame."""
    firsts = closes_wide.apply(lambda s: s.dropna().iloc[0] if s.notna().any() else np.nan)
    return closes_wide.div(firsts) * 100.0


def resample_ohlc(frame: pd.DataFrame, max_bars: int = MAX_CANDLES) -> tuple[pd.DataFrame, str]:
    """Daily OHLCV -> weekly or monthly bars when there are more than `max_bars` (label: the period's last day).

    Returns the frame and the bar size shown ("daily", "weekly", "monthly"). Indicator columns keep their
    value at the last day of each period, so overlays stay on the bars.
    """
    if len(frame) <= max_bars:
        return frame, "daily"
    for rule, name in (("W-FRI", "weekly"), ("ME", "monthly")):
        agg = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
        agg.update({c: "last" for c in frame.columns if c not in agg})
        agg["_day"] = "last"
        out = frame.assign(_day=frame.index).groupby(pd.Grouper(freq=rule)).agg(agg)
        out = out[out["_day"].notna() & out["close"].notna()]
        # Label each bar with the last trading day in it (not the calendar period end).
        out = out.set_index(pd.DatetimeIndex(out.pop("_day"), name=frame.index.name))
        if len(out) <= max_bars or name == "monthly":
            return out, name
    raise AssertionError("unreachable")  # pragma: no cover


def downsample_line(series: pd.Series, n_out: int = MAX_LINE_POINTS) -> pd.Series:
    """MinMaxLTTB (tsdownsample) to about `n_out` points when longer; NaNs are dropped first."""
    clean = series.dropna()
    if len(clean) <= n_out:
        return clean
    from tsdownsample import MinMaxLTTBDownsampler

    x = clean.index.asi8 if isinstance(clean.index, pd.DatetimeIndex) else np.arange(len(clean))
    # tsdownsample wants C-contiguous arrays; a column of a wider frame (Peers) is a strided view.
    x, y = np.ascontiguousarray(x, dtype=np.int64), np.ascontiguousarray(clean.to_numpy(dtype="float64"))
    idx = MinMaxLTTBDownsampler().downsample(x, y, n_out=n_out)
    return clean.iloc[np.sort(idx)]


_FALLBACK_LEAD = "Unadjusted prices are not available for "
_FALLBACK_END = " Showing adjusted prices."


def ticker_frames(
    bars: pd.DataFrame, tickers: Sequence[str], adjusted: bool, start: date, end: date, chosen: Iterable[str] = ()
) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Per ticker: displayed daily prices with indicators, sliced to [start, end], and notes for the user.

    Indicators are computed on the whole stored history first, so the first days of a range are not
    warm-up NaNs. When unadjusted prices are asked for but a ticker's source stores adjusted prices only,
    the adjusted ones are used and `notes[ticker]` says so.
    """
    chosen = tuple(chosen)
    frames: dict[str, pd.DataFrame] = {}
    notes: dict[str, str] = {}
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    by_symbol = dict(tuple(bars.groupby("symbol", sort=False))) if not bars.empty else {}
    for symbol in tickers:
        own = by_symbol.get(symbol, bars.iloc[:0])
        if own.empty:
            frames[symbol] = pd.DataFrame()
            continue
        use_adjusted = adjusted
        if not adjusted and not unadjusted_available(own):
            sources = ", ".join(sorted(own["source"].unique())) if "source" in own else "its source"
            label = {"sample": "the bundled sample dataset", "sample-sp500": "the S&P 500 demo dataset"}.get(
                sources, sources
            )
            notes[symbol] = f"{_FALLBACK_LEAD}{symbol}: {label} stores split- and dividend-adjusted prices only."
            notes[symbol] += _FALLBACK_END
            use_adjusted = True
        full = with_indicators(display_prices(own, use_adjusted), chosen)
        frames[symbol] = full.loc[lo:hi]
    return frames, notes


@dataclass(frozen=True)
class TickerView:
    """What the Ticker page draws, from its tickers' whole stored history (`ticker_view`; one symbol: `whole_view`)."""

    frames: dict[str, pd.DataFrame]  # per ticker: ticker_frames' displayed prices with indicators in [start, end]
    notes: dict[str, str]  # ticker_frames' unadjusted-fallback notes
    sources: dict[str, list[str]]  # per ticker: the sources of its stored bars, sorted
    primary: str | None  # the first ticker with prices in [start, end] (charted in detail); None when none has
    quote: pd.DataFrame  # the primary's displayed prices over the `quote_days` to its latest bar (the quote header's)


def ticker_view(
    bars: pd.DataFrame,
    tickers: Sequence[str],
    adjusted: bool,
    start: date,
    end: date,
    chosen: Iterable[str] = (),
    quote_days: int = 400,
) -> TickerView:
    """`ticker_frames` of `bars` (every stored bar of `tickers`, store.reads.market.bars), with what else the page
    takes from the same bars: each ticker's sources, and the quote header's prices (the primary's displayed prices
    of the `quote_days` to its latest bar), so that the page reads and prepares its bars once. It is `join_views`
    of each ticker's `whole_view`: a cache can keep the whole views per symbol and join them per request."""
    by_symbol = dict(tuple(bars.groupby("symbol", sort=False))) if not bars.empty else {}
    views = {t: whole_view(by_symbol.get(t, bars.iloc[:0]), t, adjusted, chosen, quote_days) for t in tickers}
    return join_views(views, tickers, start, end)


def whole_view(
    bars: pd.DataFrame, symbol: str, adjusted: bool, chosen: Iterable[str] = (), quote_days: int = 400
) -> TickerView:
    """One symbol's view over its whole stored history (`bars`: its bars alone): `ticker_frames` over every date,
    its sources, and its quote (the displayed prices of the `quote_days` to its latest bar)."""
    if bars.empty:
        return TickerView({symbol: pd.DataFrame()}, {}, {symbol: []}, None, pd.DataFrame())
    frames, notes = ticker_frames(bars, [symbol], adjusted, bars["date"].min(), bars["date"].max(), chosen)
    own = frames[symbol]
    last = own.index.max()
    quote = own.loc[last - pd.Timedelta(days=quote_days) : last, ["open", "high", "low", "close", "volume"]]
    return TickerView(frames, notes, {symbol: sorted(bars["source"].unique())}, symbol, quote)


def join_views(views: Mapping[str, TickerView], tickers: Sequence[str], start: date, end: date) -> TickerView:
    """The view of `tickers` over [start, end] from each one's `whole_view` (`views[t]`): its frame sliced to the
    range, its note and sources; the primary is the first with prices in the range, quoted from its own view."""
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    whole = {t: views[t].frames[t] for t in tickers}
    frames = {t: f if f.empty else f.loc[lo:hi] for t, f in whole.items()}
    notes = {t: views[t].notes[t] for t in tickers if t in views[t].notes}
    sources = {t: views[t].sources[t] for t in tickers}
    primary = next((t for t in tickers if not frames[t].empty), None)
    quote = views[primary].quote if primary is not None else pd.DataFrame()
    return TickerView(frames, notes, sources, primary, quote)


def price_basis(adjusted: bool, fallback: Iterable[str] = (), shown: Iterable[str] = ()) -> str:
    """What the prices shown are: adjusted, as traded, or as traded except where only adjusted ones exist (`fallback`:
    the symbols shown adjusted all the same). When every symbol `shown` fell back, the prices are simply adjusted."""
    fallback = sorted(fallback)
    if adjusted:
        return "adjusted (splits and dividends)"
    if fallback and set(shown) and set(shown) <= set(fallback):
        return "adjusted (splits and dividends): the sources store adjusted prices only"
    if fallback:
        return f"unadjusted (as traded); adjusted for {', '.join(fallback)} (source stores adjusted prices only)"
    return "unadjusted (as traded)"


def unadjusted_notice(notes: Mapping[str, str]) -> str | None:
    """One message for every symbol whose unadjusted prices were asked for but are not stored (`ticker_frames`'
    notes), never a box per symbol: symbols whose sources say the same are named together ("... for AAPL, MSFT and
    NVDA: the bundled sample dataset stores ...")."""
    if not notes:
        return None
    reasons: dict[str, list[str]] = {}
    for symbol, note in sorted(notes.items()):
        lead = f"{_FALLBACK_LEAD}{symbol}: "
        reason = note[len(lead) :].removesuffix(_FALLBACK_END) if note.startswith(lead) else note
        reasons.setdefault(reason, []).append(symbol)
    sentences = []
    for reason, symbols in reasons.items():
        named = symbols[0] if len(symbols) == 1 else ", ".join(symbols[:-1]) + f" and {symbols[-1]}"
        sentences.append(f"{_FALLBACK_LEAD}{named}: {reason}")
    return " ".join(sentences) + _FALLBACK_END


# -- the quote header (Ticker page) ---------------------------------------------------------------------------

# Average volume over about three months of sessions (Yahoo's "Avg. Volume" is the 3-month daily average).
AVERAGE_VOLUME_SESSIONS = 63


@dataclass(frozen=True)
class Quote:
    """The latest stored bar of one symbol in figures: what a quote header shows (prices as `prices` holds them)."""

    as_of: date  # the last bar's date
    last: float  # its close
    previous: float | None  # the close of the bar before
    change: float | None  # last - previous
    change_pct: float | None  # change / previous, a fraction
    day_low: float | None  # the last bar's low and high (None where only closes are stored)
    day_high: float | None
    low_52w: float  # the lowest low and highest high of the 52 weeks to as_of (closes where no low/high)
    high_52w: float
    position_52w: float | None  # where `last` sits in that range: 0 at the low, 1 at the high
    average_volume: float | None  # mean daily volume of the last AVERAGE_VOLUME_SESSIONS sessions with one
    volume_sessions: int  # how many sessions that mean is over (fewer when the history is short)


def range_position(value: float, low: float, high: float) -> float | None:
    """Where `value` sits in [low, high]: 0 at the low, 1 at the high; None for an empty range (high == low)."""
    if not np.isfinite([value, low, high]).all() or high <= low:
        return None
    return float((value - low) / (high - low))


def average_volume(volume: pd.Series, sessions: int = AVERAGE_VOLUME_SESSIONS) -> tuple[float | None, int]:
    """The mean of the last `sessions` stored daily volumes (missing ones skipped) and how many there were."""
    if sessions < 1:
        raise ValueError(f"sessions must be at least 1, got {sessions}")
    recent = pd.to_numeric(volume, errors="coerce").dropna().sort_index().iloc[-sessions:]
    return (float(recent.mean()), len(recent)) if len(recent) else (None, 0)


def fifty_two_weeks(prices: pd.DataFrame) -> pd.DataFrame:
    """The bars of the 52 weeks to the last one: later than the same day a year before the last bar."""
    last = prices.index.max()
    return prices[prices.index > last - pd.DateOffset(years=1)]


def quote(prices: pd.DataFrame) -> Quote:
    """The quote header's figures from daily prices (display_prices output, any history length; at least a year of
    it for a true 52-week range). ValueError when there is no close."""
    frame = prices.sort_index()
    closes = frame["close"].dropna()
    if closes.empty:
        raise ValueError("no close to quote")
    frame = frame.loc[: closes.index[-1]]
    last_bar = frame.iloc[-1]
    last = float(closes.iloc[-1])
    previous = float(closes.iloc[-2]) if len(closes) > 1 else None
    change = last - previous if previous is not None else None
    year = fifty_two_weeks(frame)
    lows = year["low"].where(year["low"].notna(), year["close"]).dropna()
    highs = year["high"].where(year["high"].notna(), year["close"]).dropna()
    low_52w, high_52w = float(lows.min()), float(highs.max())
    mean_volume, sessions = average_volume(frame["volume"]) if "volume" in frame else (None, 0)
    return Quote(
        as_of=pd.Timestamp(closes.index[-1]).date(),
        last=last,
        previous=previous,
        change=change,
        change_pct=change / previous if change is not None and previous else None,
        day_low=None if pd.isna(last_bar["low"]) else float(last_bar["low"]),
        day_high=None if pd.isna(last_bar["high"]) else float(last_bar["high"]),
        low_52w=low_52w,
        high_52w=high_52w,
        position_52w=range_position(last, low_52w, high_52w),
        average_volume=mean_volume,
        volume_sessions=sessions,
    )


@dataclass(frozen=True)
class MarketCap:
    """Close x the latest share count public by the close's day, with where that count came from."""

    value: float
    shares: float
    filed: date  # the day the share count became public
    source: str
    close: float
    close_date: date


def market_cap(shares: pd.DataFrame, close: float, close_date: date) -> MarketCap | None:
    """Market capitalisation point in time: `close` x the share count published last on or before `close_date`.

    `shares`: long rows (published, period_end, shares, source), as store.reads.index.shares_published reads them.
    Of figures published the same day the one describing the latest period wins. None when no count was public.
    """
    if shares.empty or not np.isfinite(close):
        return None
    published = pd.to_datetime(shares["published"])
    known = shares[(published <= pd.Timestamp(close_date)) & (shares["shares"] > 0)]
    if known.empty:
        return None
    order = known.assign(_p=pd.to_datetime(known["published"]), _e=pd.to_datetime(known["period_end"]))
    latest = order.sort_values(["_p", "_e", "source"], kind="stable").iloc[-1]
    count = float(latest["shares"])
    return MarketCap(
        value=count * close,
        shares=count,
        filed=pd.Timestamp(latest["published"]).date(),
        source=str(latest["source"]),
        close=close,
        close_date=close_date,
    )
