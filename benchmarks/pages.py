"""Page render benchmark (AppTest): Ticker with 5 tickers over the full history, Risk with 20 tickers, cold and warm.

Cold = query caches cleared before the render (database reads + analytics + figures); warm = the same render
again (cached queries). Baselines measured in the same run: an empty page (AppTest's own cost) and the
Overview page. Goals (issue 5): warm <= 0.25 s, cold <= 1.5 s.

    python benchmarks/pages.py [--runs 7] [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

Without --database-url (or TEST_DATABASE_URL) an embedded PostgreSQL is started in a temporary folder.
A new database is created, loaded with the bundled sample, and dropped at the end.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GOALS = {"warm": 0.25, "cold": 1.5}
PASSWORD = "benchmark-password-1234"  # noqa: S105 - login of a throwaway database
FIVE = "AAPL,MSFT,NVDA,SPY,QQQ"
TWENTY = "AAPL,MSFT,NVDA,AMZN,GOOGL,META,TSLA,JPM,V,MA,UNH,JNJ,XOM,CVX,HD,MCD,BA,CAT,GLD,TLT"


def server_url(configured: str | None, tmp: Path) -> str:
    if configured:
        return configured
    from store.embedded import start_embedded

    return start_embedded(tmp / "pgdata")


def timed(render: Callable[[], object], clear: Callable[[], None] | None, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        if clear:
            clear()
        t0 = time.perf_counter()
        render()
        samples.append(time.perf_counter() - t0)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL"))
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # AppTest's "no runtime" warnings would drown the figures

    import sqlalchemy as sa
    import streamlit as st
    from sqlalchemy.engine import make_url
    from streamlit.testing.v1 import AppTest

    tmp = Path(tempfile.mkdtemp(prefix="md-bench-pages-"))
    admin_url = make_url(server_url(args.database_url, tmp).replace("postgres://", "postgresql://", 1)).set(
        drivername="postgresql+psycopg2", database="postgres"
    )
    name = f"md_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        os.environ.update(
            DATABASE_URL=admin_url.set(database=name).render_as_string(hide_password=False),
            TERMINAL_PASSWORD=PASSWORD,
        )
        from dashboard.web import startup

        startup.run_startup()  # migrations + sample load + admin user, as the app does at start

        router = str(ROOT / "dashboard" / "web" / "router.py")

        def session(page: str | None = None, params: dict | None = None) -> AppTest:
            at = AppTest.from_file(router, default_timeout=60).run()
            at.text_input(key="login_username").input("admin")
            at.text_input(key="login_password").input(PASSWORD)
            at = at.button[0].click().run()
            if page:
                at.switch_page(page)
                at.query_params.update(params or {})
                at.run()
            assert not at.exception, at.exception
            return at

        empty = AppTest.from_string("import streamlit as st\nst.write('hello')", default_timeout=60)
        overview = session()
        ticker = session("../../pages/ticker.py", {"t": FIVE, "range": "Max", "ind": ["SMA50", "BB", "RSI", "MACD"]})
        risk = session("../../pages/risk.py", {"t": TWENTY, "range": "Max"})
        assert len(ticker.get("plotly_chart")) == 2 and len(risk.dataframe[0].value) == 21
        payload = sum(len(c.proto.spec) for c in ticker.get("plotly_chart"))
        risk_payload = sum(len(c.proto.spec) for c in risk.get("plotly_chart"))

        clear = st.cache_data.clear
        rows = [
            ("empty page (baseline)", timed(empty.run, None, args.runs), None, None),
            ("Overview, warm (baseline)", timed(overview.run, None, args.runs), None, None),
            ("Ticker, 5 tickers, Max, 4 indicators: cold", timed(ticker.run, clear, args.runs), "cold", payload),
            ("Ticker, 5 tickers, Max, 4 indicators: warm", timed(ticker.run, None, args.runs), "warm", payload),
            ("Risk, 20 tickers + SPY, Max: cold", timed(risk.run, clear, args.runs), "cold", risk_payload),
            ("Risk, 20 tickers + SPY, Max: warm", timed(risk.run, None, args.runs), "warm", risk_payload),
        ]
        for at in (ticker, risk):
            assert not at.exception, at.exception
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        if not args.database_url:
            from store.embedded import stop_embedded

            stop_embedded()
        shutil.rmtree(tmp, ignore_errors=True)

    base = statistics.median(rows[0][1])
    print(f"\nAppTest renders, median of {args.runs} (min-max); 'cold' = query caches cleared first")
    missed = False
    for label, samples, goal_key, size in rows:
        median = statistics.median(samples)
        text = f"  {label:<46} {median:6.3f} s ({min(samples):.3f}-{max(samples):.3f})"
        if goal_key:
            ok = median <= GOALS[goal_key]
            missed |= not ok
            text += f"  +{median - base:.3f} s over empty  goal <= {GOALS[goal_key]} s: {'ok' if ok else 'MISSED'}"
            text += f"  figures {size / 1024:.0f} KiB"
        print(text)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
