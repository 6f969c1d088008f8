"""Shared store: settings, tables, engine and migrations — the contract between ingestion and the dashboard."""

__version__ = "0.1.0"
