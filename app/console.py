"""What the CLI and the supervisor print for people: the one-time credentials box."""

from __future__ import annotations


def credentials_box(title: str, rows: list[tuple[str, str]], footer: str) -> str:
    """A framed block that stands out in a scrolling terminal; rows are (label, value)."""
    width = max(len(label) for label, _ in rows) + 2
    lines = [title, "", *(f"{label + ':':<{width}}{value}" for label, value in rows), "", footer]
    inner = max(len(line) for line in lines) + 2
    top = "+" + "-" * (inner + 2) + "+"
    body = [f"|  {line:<{inner}}|" for line in lines]
    return "\n".join([top, *body, top])


def password_box(*, workspace: str, email: str, password: str, what: str = "First sign-in") -> str:
    return credentials_box(
        f"{what}: the password is shown ONCE. Store it now.",
        [("Workspace", workspace), ("Email", email), ("Password", password)],
        "It is not written to any file or log. Change it after signing in.",
    )
