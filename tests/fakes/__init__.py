"""Fakes at the boundaries we do not own: yfinance's download/Ticker, FRED's XML rendering for a fake server."""
