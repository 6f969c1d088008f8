"""Alerts: rules on stored data, an outbox, and delivery by signed webhook, Slack and email."""
