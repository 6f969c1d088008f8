"""Access control: users, sessions, lockout, audit, the client address, and the guards pages call."""
