"""The README stays true: its input schema table is generated from the code (python -m planning.app.docs)."""

from __future__ import annotations

from pathlib import Path

from geo.io import alias_table_markdown

README = Path(__file__).resolve().parents[1] / "README.md"


def _between(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0].strip()


def test_schema_table_is_current() -> None:
    text = README.read_text(encoding="utf-8")
    table = _between(text, "<!-- schema:start -->", "<!-- schema:end -->")
    assert table == alias_table_markdown().strip(), "regenerate with: python -m planning.app.docs"


def test_set_up_commands_are_documented() -> None:
    text = README.read_text(encoding="utf-8")
    assert "make demo" in text and "make test" in text


def test_docs_command_rewrites_this_readme() -> None:
    from planning.app import docs

    assert docs.README == README and not docs.update_readme()  # the table is current: nothing to rewrite
