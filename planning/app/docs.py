"""Regenerate the README's generated sections (input schema) from the code.

Run ``python -m planning.app.docs`` after changing :mod:`geo.model`; a test fails
while the README is out of date.
"""

from __future__ import annotations

import sys
from pathlib import Path

from geo.io import alias_table_markdown

README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- schema:start -->", "<!-- schema:end -->"


def update_readme(path: Path = README) -> bool:
    """Rewrite the schema section of the README; returns whether it changed."""
    text = path.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    _old, tail = rest.split(END, 1)
    new = f"{head}{START}\n{alias_table_markdown().strip()}\n{END}{tail}"
    if new != text:
        path.write_text(new, encoding="utf-8")
        return True
    return False


if __name__ == "__main__":
    sys.stdout.write("README updated\n" if update_readme() else "README already current\n")
