"""Real-shaped market rows for page tests: AAPL around its 2020 4:1 split, from a recorded Yahoo chart response."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from store import tables

# The recorded payload committed with the tests (tests/fixtures/api_samples, see its SOURCES.md).
YAHOO_CHART = Path(__file__).resolve().parent.parent / "fixtures" / "api_samples" / "yahoo_chart_v8_AAPL_1d.json"


def yahoo_payload() -> dict:
    return json.loads(YAHOO_CHART.read_text())


def yahoo_bars_and_actions() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Bars with raw close and adjusted close, and the split/dividend events, as the chart API reports them."""
    result = yahoo_payload()["chart"]["result"][0]
    quote = result["indicators"]["quote"][0]
    dates = [datetime.fromtimestamp(ts, UTC).date() for ts in result["timestamp"]]
    bars = pd.DataFrame(
        {
            "symbol": "AAPL",
            "date": dates,
            "open": quote["open"],
            "high": quote["high"],
            "low": quote["low"],
            "close": quote["close"],
            "adj_close": result["indicators"]["adjclose"][0]["adjclose"],
            "volume": quote["volume"],
            "source": "yahoo",
        }
    )
    events = result["events"]
    actions = [
        {
            "symbol": "AAPL",
            "date": datetime.fromtimestamp(e["date"], UTC).date(),
            "action": "split",
            "value": e["numerator"] / e["denominator"],
            "source": "yahoo",
        }
        for e in events["splits"].values()
    ] + [
        {
            "symbol": "AAPL",
            "date": datetime.fromtimestamp(e["date"], UTC).date(),
            "action": "dividend",
            "value": e["amount"],
            "source": "yahoo",
        }
        for e in events["dividends"].values()
    ]
    return bars, pd.DataFrame(actions)


def load_yahoo_aapl(url: str, with_quotes: bool = False) -> None:
    """Migrate a fresh database and store AAPL bars, corporate actions and (optionally) intraday quotes."""
    from store.db import create_db_engine, migrate

    engine = create_db_engine(url)
    migrate(engine)
    bars, actions = yahoo_bars_and_actions()
    with engine.begin() as conn:
        conn.execute(
            tables.instruments.insert().values(
                symbol="AAPL", name="Apple Inc.", asset_class="stock", sector="Information Technology", source="yahoo"
            )
        )
        conn.execute(tables.daily_bars.insert(), bars.to_dict("records"))
        conn.execute(tables.corporate_actions.insert(), actions.to_dict("records"))
        conn.execute(
            tables.ingestion_runs.insert().values(
                job="daily_bars", source="yahoo", status="success", finished_at=sa.func.now(), rows_written=len(bars)
            )
        )
        if with_quotes:
            now = datetime.now(UTC)
            conn.execute(
                tables.intraday_quotes.insert(),
                [
                    {
                        "symbol": "AAPL",
                        "ts": now - timedelta(minutes=5),
                        "price": 120.0,
                        "volume": 1000,
                        "source": "yahoo",
                    },
                    {
                        "symbol": "AAPL",
                        "ts": now - timedelta(minutes=1),
                        "price": 121.5,
                        "volume": 2500,
                        "source": "yahoo",
                    },
                ],
            )
    engine.dispose()
