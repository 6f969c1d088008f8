"""Figure builders for the macro desk: axes by units, gaps kept, recession and inversion shading."""

import numpy as np
import pandas as pd
import pytest

from analytics import macro
from dashboard.ui import macro_figures
from tests.conftest import ROOT

MACRO = ROOT / "data" / "sample" / "macro"


def sample(series_id: str) -> pd.Series:
    frame = pd.read_csv(MACRO / f"{series_id}.csv", parse_dates=["date"])
    return frame.set_index("date")["value"].rename(series_id)


def plotted(trace) -> np.ndarray:
    return np.asarray(trace.y, dtype="float64")


def test_transformed_units_name_the_axis():
    assert macro_figures.transformed_units("Percent", "lin") == "Percent"
    assert macro_figures.transformed_units("Index 1982-1984=100", "pc1") == "Percent Change from Year Ago"
    assert macro_figures.transformed_units("Index 1982-1984=100", "pch") == "Percent Change"
    assert macro_figures.transformed_units("Percent", "chg") == "Change, Percent"
    assert macro_figures.transformed_units("Billions of Dollars", "log") == "Natural Log of Billions of Dollars"
    with pytest.raises(ValueError, match="unknown units"):
        macro_figures.transformed_units("Percent", "yoy")


def test_recession_periods_from_the_bundled_usrec():
    periods = macro.recession_periods(sample("USREC"))
    as_tuples = {(str(r.start.date()), str(r.end.date())) for r in periods.itertuples()}
    # NBER: Mar 2001-Nov 2001, Jan 2008-Jun 2009, Mar 2020-Apr 2020 (months after the peak through the trough)
    assert ("2001-04-01", "2001-12-01") in as_tuples
    assert ("2008-01-01", "2009-07-01") in as_tuples
    assert ("2020-03-01", "2020-05-01") in as_tuples
    # Independent count of runs: a run starts at each 0 -> 1 step.
    flags = sample("USREC").to_numpy()
    starts = int(((flags[1:] == 1) & (flags[:-1] == 0)).sum()) + int(flags[0] == 1)
    assert len(periods) == starts


def test_recession_periods_empty_and_gap_handling():
    idx = pd.date_range("2020-01-01", periods=6, freq="MS")
    assert macro.recession_periods(pd.Series(0.0, index=idx)).empty
    # A missing month breaks a run: two runs, not one.
    s = pd.Series([1.0, 1.0, 1.0], index=pd.DatetimeIndex(["2020-01-01", "2020-02-01", "2020-04-01"]))
    periods = macro.recession_periods(s)
    assert list(periods["start"]) == [pd.Timestamp("2020-01-01"), pd.Timestamp("2020-04-01")]
    assert list(periods["end"]) == [pd.Timestamp("2020-03-01"), pd.Timestamp("2020-05-01")]


def test_series_figure_puts_other_units_on_a_second_axis_and_keeps_gaps():
    cpi = sample("CPIAUCSL").loc["2024":"2026"]
    unrate = sample("UNRATE").loc["2024":"2026"]
    fig = macro_figures.series_figure(
        {"CPIAUCSL": cpi, "UNRATE": unrate}, {"CPIAUCSL": "Index 1982-1984=100", "UNRATE": "Percent"}
    )
    assert [t.yaxis for t in fig.data] == ["y", "y2"]
    assert fig.layout.yaxis.title.text == "Index 1982-1984=100"
    assert fig.layout.yaxis2.title.text == "Percent" and fig.layout.yaxis2.overlaying == "y"
    y = plotted(fig.data[0])
    gap = list(pd.DatetimeIndex(fig.data[0].x)).index(pd.Timestamp("2025-10-01"))
    assert np.isnan(y[gap]) and fig.data[0].connectgaps is False
    np.testing.assert_array_equal(y, cpi.to_numpy())


def test_series_figure_shares_one_axis_for_same_units_and_refuses_a_third():
    dgs10, dgs2 = sample("DGS10").loc["2024"], sample("DGS2").loc["2024"]
    fig = macro_figures.series_figure({"DGS10": dgs10, "DGS2": dgs2}, {"DGS10": "Percent", "DGS2": "Percent"})
    assert [t.yaxis for t in fig.data] == ["y", "y"]
    assert "yaxis2" not in fig.layout.to_plotly_json()
    with pytest.raises(ValueError, match="at most 2"):
        macro_figures.series_figure({"a": dgs10, "b": dgs2, "c": dgs2}, {"a": "x", "b": "y", "c": "z"})
    with pytest.raises(ValueError, match="no units"):
        macro_figures.series_figure({"a": dgs10}, {})


def test_recessions_are_shaded_only_inside_the_plotted_dates():
    recessions = macro.recession_periods(sample("USREC"))
    unrate = sample("UNRATE").loc["2019":"2022"]
    fig = macro_figures.series_figure({"UNRATE": unrate}, {"UNRATE": "Percent"}, recessions)
    shapes = [s for s in fig.layout.shapes if s.name == "recession"]
    assert [(pd.Timestamp(s.x0), pd.Timestamp(s.x1)) for s in shapes] == [
        (pd.Timestamp("2020-03-01"), pd.Timestamp("2020-05-01"))
    ]
    fig = macro_figures.series_figure(
        {"UNRATE": sample("UNRATE").loc["2021":"2022"]}, {"UNRATE": "Percent"}, recessions
    )
    assert not [s for s in fig.layout.shapes if s.name == "recession"]


def test_yield_curve_figure_one_trace_per_curve_in_tenor_order():
    curves = pd.DataFrame({"now": [4.0, 3.5, 4.2], "then": [5.0, 4.5, 4.0]}, index=["3M", "2Y", "10Y"])
    fig = macro_figures.yield_curve_figure(curves)
    assert [t.name for t in fig.data] == ["now", "then"]
    assert list(fig.data[0].x) == ["3M", "2Y", "10Y"]
    np.testing.assert_array_equal(plotted(fig.data[1]), [5.0, 4.5, 4.0])


def test_spread_figure_fills_only_the_inverted_stretches():
    spread = sample("T10Y2Y").loc["2022"]
    fig = macro_figures.spread_figure({"10Y-2Y": spread})
    line, inverted = fig.data
    np.testing.assert_array_equal(plotted(line), spread.to_numpy())
    inv = plotted(inverted)
    assert np.all(inv[~np.isnan(inv)] < 0)
    assert np.isnan(inv[spread.to_numpy() >= 0]).all() and (~np.isnan(inv)).sum() == (spread < 0).sum()
    assert inverted.fill == "tozeroy"


def test_beta_figure_two_panels():
    stats = pd.DataFrame(
        {"correlation": [0.1, -0.2], "beta": [0.01, -0.02]}, index=pd.to_datetime(["2024-01-02", "2024-01-03"])
    )
    fig = macro_figures.beta_figure(stats, "SPY", "DGS10")
    assert [t.name for t in fig.data] == ["correlation", "beta"]
    assert fig.data[1].yaxis == "y2"
    with pytest.raises(ValueError, match="beta"):
        macro_figures.beta_figure(stats[["correlation"]], "SPY", "DGS10")


def test_the_beta_says_what_it_is_per():
    from analytics.macro import change_unit

    assert change_unit("DGS10", "Percent") == "1 percentage point change in DGS10"
    assert change_unit("UNRATE", "Percent") == "1 percentage point change in UNRATE"
    assert change_unit("DEXJPUS", "Japanese Yen to One U.S. Dollar") == (
        "1 change in DEXJPUS (Japanese Yen to One U.S. Dollar)"
    )
    assert change_unit("NEWID", "pending") == "1 change in NEWID"
    stats = pd.DataFrame({"correlation": [0.1], "beta": [0.01]}, index=pd.to_datetime(["2024-01-02"]))
    fig = macro_figures.beta_figure(stats, "SPY", "DGS10", change_unit("DGS10", "Percent"))
    assert fig.layout.yaxis2.title.text == "return per 1 percentage point change in DGS10"


def test_assign_axes_keeps_chosen_sides_and_fills_auto_ones_by_units():
    units = {"FEDFUNDS": "Percent Change from Year Ago", "CPIAUCSL": "Percent Change from Year Ago", "GDP": "Bil."}
    assert macro_figures.assign_axes(units) == ({"FEDFUNDS": "left", "CPIAUCSL": "left", "GDP": "right"}, [])
    # FEDFUNDS year on year (~5,000%) on its own axis: CPI keeps the left one.
    sides, left_out = macro_figures.assign_axes(units, {"FEDFUNDS": "right", "CPIAUCSL": "auto"})
    assert sides == {"FEDFUNDS": "right", "CPIAUCSL": "left"} and left_out == ["GDP"]
    sides, left_out = macro_figures.assign_axes({"a": "x", "b": "y", "c": "z"}, {"c": "left"})
    assert sides == {"a": "right", "c": "left"} and left_out == ["b"]
    with pytest.raises(ValueError, match="unknown axis choice 'top'"):
        macro_figures.assign_axes(units, {"GDP": "top"})


def test_series_figure_draws_each_line_on_its_chosen_axis_titled_with_its_units():
    dgs10, dgs2 = sample("DGS10").loc["2024"], sample("DGS2").loc["2024"]
    cpi = sample("CPIAUCSL").loc["2024"]
    units = {"DGS10": "Percent", "DGS2": "Percent", "CPIAUCSL": "Index 1982-1984=100"}
    fig = macro_figures.series_figure(
        {"DGS10": dgs10, "DGS2": dgs2, "CPIAUCSL": cpi}, units, axes={"DGS2": "right", "CPIAUCSL": "left"}
    )
    # DGS10 is left to 'auto': the left side shows other units, the right one only its own.
    assert [(t.name, t.yaxis) for t in fig.data] == [("DGS10 (right)", "y2"), ("DGS2 (right)", "y2"), ("CPIAUCSL", "y")]
    assert (fig.layout.yaxis.title.text, fig.layout.yaxis2.title.text) == ("Index 1982-1984=100", "Percent")
    np.testing.assert_array_equal(plotted(fig.data[1]), dgs2.to_numpy())
    fig = macro_figures.series_figure(
        {"DGS10": dgs10, "DGS2": dgs2, "CPIAUCSL": cpi}, units, axes={"DGS10": "left", "CPIAUCSL": "left"}
    )
    assert [t.yaxis for t in fig.data] == ["y", "y2", "y"]  # asked for: one side, two units, both named
    assert fig.layout.yaxis.title.text == "Percent · Index 1982-1984=100"


def test_each_kind_of_figure_is_valid_plotly():
    """The figures are built unvalidated (macro_figures._figure): plotly's validation of each kind, once, here."""
    import plotly.graph_objects as go

    recessions = macro.recession_periods(sample("USREC"))
    daily = sample("T10Y2Y")
    stats = pd.DataFrame({"correlation": [0.1, -0.2], "beta": [0.01, -0.02]}, index=daily.index[:2])
    figures = [
        macro_figures.series_figure(
            {"DGS10": sample("DGS10"), "UNRATE": sample("UNRATE")}, {"DGS10": "Percent", "UNRATE": "Rate"}, recessions
        ),
        macro_figures.spread_figure({"10Y-2Y": daily}, recessions),
        macro_figures.beta_figure(stats, "SPY", "DGS10"),
        macro_figures.yield_curve_figure(pd.DataFrame({"now": [4.0, 3.5]}, index=["3M", "2Y"])),
    ]
    for fig in figures:
        go.Figure(fig.to_plotly_json())  # raises on an unknown or malformed property
    assert any(s.name == "recession" and s.yref == "y domain" for s in figures[1].layout.shapes)


def test_a_long_line_is_drawn_thinned_with_every_extreme_and_gap():
    dates = pd.bdate_range("2000-01-03", periods=9000)
    values = pd.Series(np.sin(np.arange(9000) / 50.0), index=dates)
    values.iloc[4000:4010] = np.nan  # a gap
    values.iloc[7000] = 5.0  # a one-day spike
    values.iloc[7500] = -5.0
    fig = macro_figures.series_figure({"X": values}, {"X": "Percent"})
    x, y = pd.DatetimeIndex(fig.data[0].x), plotted(fig.data[0])
    assert len(y) <= macro_figures.MAX_DRAWN_POINTS + 1
    assert np.nanmax(y) == 5.0 and np.nanmin(y) == -5.0
    drawn = pd.Series(y, index=x)
    assert (drawn.dropna() == values.reindex(drawn.dropna().index)).all()  # drawn values are stored values
    assert list(x[np.isnan(y)]) == [dates[4000]]  # the gap, once, at its first missing date
    assert fig.data[0].connectgaps is False


def test_a_long_spread_is_drawn_thinned_with_its_extremes_and_inverted_stretches():
    spread = sample("T10Y2Y")
    assert len(spread) > macro_figures.MAX_DRAWN_POINTS
    line, inverted = macro_figures.spread_figure({"10Y-2Y": spread}).data
    assert len(line.y) < len(spread) / 2
    assert plotted(line).min() == spread.min() and plotted(line).max() == spread.max()
    inv = pd.Series(plotted(inverted), index=pd.DatetimeIndex(inverted.x))
    filled = inv.dropna()
    assert (filled < 0).all() and filled.min() == spread.min()
    assert (filled == spread.reindex(filled.index)).all()  # stored values at their dates
    # each inverted stretch is its own filled segment: a gap (NaN) between two stretches, on a non-inverted date
    assert inv.isna().sum() > 0 and not (spread.reindex(inv[inv.isna()].index) < 0).any()
