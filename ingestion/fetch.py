"""One provider, one request: the rows of the requested items it delivered, and why the others are missing."""

from __future__ import annotations

import logging

import pandas as pd

from ingestion.datasets import Dataset
from ingestion.planning import Request
from ingestion.providers.base import NotFound, Provider, ProviderError, failures_of
from store.redaction import redact

log = logging.getLogger(__name__)


def call_provider(provider: Provider, dataset: Dataset, request: Request) -> tuple[pd.DataFrame | None, dict[str, str]]:
    """(rows of the requested items, or None) and item -> reason for each requested item not delivered.

    Never raises for a provider failure: a provider-wide error fails every item of the request with its
    message; a NotFound without per-item reasons is retried item by item, so one unknown symbol does not
    fail its batch.
    """
    items = request.items
    try:
        frame = dataset.call(provider, items, request.start, request.end)
    except NotFound as exc:
        failures = dict(exc.failures)
        if len(items) > 1 and not failures:
            frames, reasons = [], {}
            for item in items:
                part, part_reasons = call_provider(provider, dataset, Request([item], request.start, request.end))
                if part is not None:
                    frames.append(part)
                reasons.update(part_reasons)
            return (pd.concat(frames, ignore_index=True) if frames else None), reasons
        return None, {item: failures.get(item, str(exc)) for item in items}
    except ProviderError as exc:  # rate limited, daily limit, circuit open, authentication, provider error
        return None, {item: str(exc) or type(exc).__name__ for item in items}
    except Exception as exc:  # noqa: BLE001 - a provider bug or a payload its transform did not expect
        log.exception("%s failed unexpectedly for %s", provider.name, ", ".join(items[:5]))
        return None, {item: redact(f"unexpected {type(exc).__name__}: {exc}") for item in items}
    if not isinstance(frame, pd.DataFrame):
        return None, {item: f"malformed result (a {type(frame).__name__}, not a table)" for item in items}
    if any(c not in frame.columns for c in dataset.columns):
        return None, {item: f"malformed result (columns {list(frame.columns)})" for item in items}
    reported = failures_of(frame)
    frame = frame[frame[dataset.key].isin(items)][dataset.columns]
    delivered = set(frame[dataset.key])
    missing = {item: reported.get(item, "no data returned") for item in items if item not in delivered}
    return (frame if not frame.empty else None), missing
