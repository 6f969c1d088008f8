"""Reads: SQL -> DataFrame or dataclass, a connection passed in, no Streamlit; shared by pages, API, worker and CLI."""
