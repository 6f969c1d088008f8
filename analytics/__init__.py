"""Pure analytics: pandas/numpy in, pandas/numpy out; no Streamlit, no database."""
