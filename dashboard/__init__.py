"""The read side: startup, auth, cached queries, pure analytics, figures and UI components."""
