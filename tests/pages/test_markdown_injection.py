"""Text from users and links (inputs, URL parameters) reaches markdown-rendering elements only as text.

Rendered with markdown-it (CommonMark with GFM's autolinks) as an independent Markdown implementation: no
link, image or HTML may come out of any alert, caption, title or markdown body, and no payload may stand in
a body unescaped (Streamlit's `:color[...]` and `$math$` directives are not CommonMark, so they are checked
by that second rule).
"""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt

from tests.support.app import markdown_bodies, open_page

PAYLOADS = [
    "[SIGN-IN](HTTPS://EV.IL)",
    "![](//host.example/p.png)",
    "<img src=x onerror=alert(1)>",
    "https://ev.il/login",
    "**BOLD** :red[RED] $X^2$",
]
RENDER = MarkdownIt("commonmark", {"linkify": True, "html": True}).enable(["linkify", "strikethrough"])


def assert_rendered_as_text(at, payload: str) -> None:
    assert not at.exception, at.exception
    bodies = markdown_bodies(at)
    for body in bodies:
        html = RENDER.render(body)
        assert "<a " not in html and "<img" not in html, f"{body!r} renders as {html!r}"
        assert payload not in body, f"{payload!r} stands unescaped in {body!r}"


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize(
    ("page", "param"),
    [
        ("ticker", "t"),
        ("risk", "t"),
        ("risk", "bench"),
        ("overview", "ccy"),
        ("ticker", "ccy"),
        ("backtest", "bt_t"),
        ("backtest", "bt_bench"),
    ],
)
def test_url_parameters(ready_app, page, param, payload):
    at = open_page(page, {param: payload})
    assert_rendered_as_text(at, payload)
    if param in ("t", "bench"):
        assert any("Unknown ticker" in b for b in markdown_bodies(at))  # it was shown, as text


@pytest.mark.parametrize("payload", PAYLOADS)
def test_backtest_sweep_values(ready_app, payload):
    at = open_page("backtest", {"bt_t": "AAPL", "bt_sweep": "true", "bt_sw_fast": payload})
    assert_rendered_as_text(at, payload)
    assert any("is not a number" in b for b in markdown_bodies(at))  # it was shown, as text


@pytest.mark.parametrize("payload", PAYLOADS)
def test_macro_search_and_add(ready_app, payload):
    at = open_page("macro")
    at.text_input(key="macro_search").input(payload).run()
    assert_rendered_as_text(at, payload)
    at.text_input(key="macro_add_id").input(payload)
    at.button(key="macro_add_submit").click().run()
    assert_rendered_as_text(at, payload)
    assert any("not a FRED series id" in b for b in markdown_bodies(at))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_admin_user_name(ready_app, payload):
    at = open_page("admin_users")
    at.text_input(key="admin_new_username").input(payload)
    at.button[0].click().run()
    assert_rendered_as_text(at, payload)


def test_the_check_fails_on_an_unescaped_body():
    with pytest.raises(AssertionError, match="renders as"):
        html = RENDER.render("Unknown ticker [SIGN-IN](HTTPS://EV.IL)")
        assert "<a " not in html, "renders as"
