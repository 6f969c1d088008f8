"""Fixtures shared by the page tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest


@pytest.fixture
def downloads(monkeypatch) -> dict[str, Callable[[], bytes]]:
    """What the page hands each download button, by label, as of the last run (pages build their files on click:
    calling one builds it)."""
    from streamlit.elements.widgets.button import ButtonMixin

    captured: dict[str, Callable[[], bytes]] = {}
    original = ButtonMixin.download_button

    def spy(self, label, data, *args, **kwargs):
        captured[label] = data
        return original(self, label, data, *args, **kwargs)

    monkeypatch.setattr(ButtonMixin, "download_button", spy)
    return captured
