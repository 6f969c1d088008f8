"""Series colours for every multi-series chart: ten distinct hues, then the same hues again with a line dash."""

from __future__ import annotations

# Ten colours for the dark theme, pairwise far apart in CIELAB (hue angles at least 28 degrees apart, plus a neutral
# grey; checked in the tests) and ordered so neighbours differ most: Streamlit's own categorical colours give the
# first four series two blues and two reds (AAPL/MSFT, NVDA/TSLA).
SERIES_COLOURS = (
    "#4C9BE8",  # blue
    "#F58518",  # orange
    "#54A24B",  # green
    "#E45756",  # red
    "#C77DFF",  # violet
    "#EECA3B",  # yellow
    "#00C2A8",  # teal
    "#F472B6",  # pink
    "#17BECF",  # cyan
    "#D0D0D0",  # grey
)
# Series 11-20 repeat the hues dashed, 21-30 dotted, ...: a line's colour and dash together stay unique.
SERIES_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")


def series_colour(position: int) -> str:
    """The colour of the series at `position` (0-based) on a chart."""
    return SERIES_COLOURS[position % len(SERIES_COLOURS)]


def series_dash(position: int) -> str:
    """The line dash of the series at `position`: solid for the first ten, then one dash per further ten."""
    return SERIES_DASHES[(position // len(SERIES_COLOURS)) % len(SERIES_DASHES)]


def series_line(position: int, **line: object) -> dict:
    """A plotly `line` dict for the series at `position`, keeping the width etc. given in `line`."""
    return {**line, "color": series_colour(position), "dash": line.get("dash") or series_dash(position)}
