"""Search across contacts, accounts, deals and notes: full text, prefixes and typo-tolerant names."""
