"""Likely duplicate contacts and accounts, and reversible merges."""
