"""Streamlit only: cached loaders over reads and analytics, components, figures, formatting, URL state, exports."""
