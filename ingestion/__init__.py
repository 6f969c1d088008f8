"""The write side: providers, validation, bulk writes, jobs and the CLI."""
