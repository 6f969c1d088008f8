"""Tests for the alerts package."""
