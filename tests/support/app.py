"""AppTest helpers shared by the page and access tests: the router, signing in, the text a page shows."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, TEST_PASSWORD

ROUTER = str(ROOT / "dashboard" / "web" / "router.py")
PAGE_FILES = sorted(str(p) for p in (ROOT / "pages").glob("*.py"))


def page(name: str) -> str:
    """The path AppTest.switch_page takes for a page file, relative to the router."""
    return f"../../pages/{name}.py"


def shown(markdown: object) -> str:
    """What a reader sees of a Markdown body's escapes: `\\.` renders as `.` (CommonMark backslash escapes)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", str(markdown))


def texts(at: AppTest) -> str:
    parts = [e.value for e in [*at.title, *at.markdown, *at.caption, *at.error, *at.info, *at.warning]]
    return "\n".join(shown(p) for p in parts)


def messages(at: AppTest) -> str:
    """The alerts of a page, as a reader sees them."""
    return "\n".join(shown(e.value) for e in [*at.error, *at.warning, *at.info, *at.success])


def log_in(at: AppTest, username: str = "admin", password: str = TEST_PASSWORD) -> AppTest:
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    return at.button[0].click().run()


def signed_in(username: str = "admin", password: str = TEST_PASSWORD) -> AppTest:
    """A fresh AppTest of the router, signed in."""
    return log_in(AppTest.from_file(ROUTER, default_timeout=30).run(), username, password)


def _decode(value):
    """Plotly sends numeric arrays as base64 typed arrays ({"dtype", "bdata"}): decode them to lists."""
    if isinstance(value, dict) and "bdata" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        if "shape" in value:
            array = array.reshape([int(n) for n in str(value["shape"]).split(",")])
        return array.tolist()
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def figures(at: AppTest) -> list[dict]:
    return [_decode(json.loads(chart.proto.spec)) for chart in at.get("plotly_chart")]


def traces(figure: dict) -> dict[str, dict]:
    return {t.get("name"): t for t in figure["data"]}


def open_page(name: str, params: dict | None = None, username: str = "admin", password: str = TEST_PASSWORD) -> AppTest:
    """A signed-in AppTest on page `name` (pages/<name>.py) with `params` in its URL."""
    at = signed_in(username, password)
    at.switch_page(page(name))
    at.query_params.update(params or {})
    return at.run()


def frame(at: AppTest, column: str, index: int = 0):
    """The `index`-th table on the page that has `column` (tables found by what they hold, not by position)."""
    found = [d.value for d in at.dataframe if column in d.value.columns]
    if len(found) <= index:
        raise AssertionError(f"no table #{index} with a {column!r} column (tables: {len(at.dataframe)})")
    return found[index]


def markdown_bodies(at: AppTest) -> list[str]:
    """The source of every element that renders Markdown (alerts, captions, titles, markdown), in order."""
    kinds = ("title", "header", "subheader", "markdown", "caption", "error", "warning", "info", "success", "toast")
    return [str(e.value) for kind in kinds for e in at.get(kind)]
