"""Test-only code loaded by the suite and by worker subprocesses it starts."""
