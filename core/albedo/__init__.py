"""Albedo's conversations and messages (issue 11): who said what, the intent and entities understood, the
action taken. The engines live in ai/albedo/."""
