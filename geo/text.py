"""Text made safe to show and to open: control characters, bidirectional overrides, HTML, spreadsheet cells.

Names come from the user's files (school names pasted from Word carry ``\\x0b`` or ``\\x07``) and the
scenario (its ``name``, ``[report] title``). Before they reach an output a person opens:

- **HTML** (maps, report): :func:`html_text` drops invisible characters (:func:`visible`) and escapes
  ``& < > " '``, so a name is shown as text and never read as markup or script.
- **Excel** (``report.xlsx``): :func:`visible` drops the control characters XML cannot hold (openpyxl
  refuses them) and the bidirectional controls; a text that :func:`looks_like_formula` is stored as
  text with the "quote prefix" cell flag (what typing a leading apostrophe does), so the cell shows
  exactly the name and Excel never evaluates it.
- **CSV**: :func:`csv_text` puts a single quote before a text that :func:`looks_like_formula` (the
  OWASP advice against CSV injection); a text that is just a number (``-5``, ``+3.2``) is left alone,
  since a spreadsheet reads it as that number and nothing runs. CSV files are data: other characters
  are kept as they are.

Pure functions of strings; :mod:`geo` holds them so that both the application layer (the writer) and
:mod:`maps` use the same rules.
"""

from __future__ import annotations

import html
import re
from typing import Any

#: Bidirectional controls (embeddings, overrides, isolates, marks): they reorder what is shown, so a name
#: can read differently from what it is ("Trojan source"). Stripped from every displayed text.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")

#: C0 control characters other than tab, line feed and carriage return, DEL, and the C1 controls:
#: invisible, and (C0) not allowed in XML, hence in no Excel cell; a NUL also ends a text in a GeoPackage.
CONTROL_CHARACTERS = "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
_CONTROL = re.compile(CONTROL_CHARACTERS)
_INVISIBLE = re.compile(f"{CONTROL_CHARACTERS}|[{''.join(sorted(BIDI_CONTROLS))}]")

#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

#: A text that is only a decimal number (a spreadsheet reads it as that number: nothing to neutralise).
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")

#: What goes before a formula-like CSV text.
CSV_QUOTE = "'"


def visible(text: str) -> str:
    """``text`` without control characters (tab, line feed and carriage return kept) and bidirectional controls.

    Examples
    --------
    >>> visible("一小\\x0b")
    '一小'
    >>> visible("abc\\u202edef")
    'abcdef'
    """
    return _INVISIBLE.sub("", text)


def without_controls(text: str) -> str:
    """``text`` without control characters (tab, line feed and carriage return kept); bidirectional marks stay.

    What loading does to every text cell: right-to-left marks are part of Uyghur or Arabic text, control
    characters are never part of a name.

    Examples
    --------
    >>> without_controls("三\\x00小\\x07")
    '三小'
    """
    return _CONTROL.sub("", text)


def control_codes(text: str) -> list[str]:
    """The control characters in ``text`` as ``U+XXXX``, in order of first appearance, for messages.

    Examples
    --------
    >>> control_codes("三\\x00小\\x07\\x00")
    ['U+0000', 'U+0007']
    """
    return list(dict.fromkeys(f"U+{ord(ch):04X}" for ch in _CONTROL.findall(text)))


def html_text(value: Any) -> str:
    """A value as HTML text or attribute content: invisible characters dropped, then escaped.

    Examples
    --------
    >>> html_text("</title><script>alert('x')</script>")
    '&lt;/title&gt;&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;'
    """
    return html.escape(visible(str(value)), quote=True)


def looks_like_formula(text: str) -> bool:
    """Whether a spreadsheet could take ``text`` for a formula: it starts with ``= + - @``, a tab or a carriage return.

    A text that is only a number (``-5``, ``+3.2e2``) is read as that number, so it does not count.

    Examples
    --------
    >>> looks_like_formula("=1+1"), looks_like_formula("-2+3"), looks_like_formula("-5"), looks_like_formula("一小")
    (True, True, False, False)
    """
    return text.startswith(FORMULA_STARTS) and _NUMBER.fullmatch(text) is None


def csv_text(text: str) -> str:
    """A CSV cell text that a spreadsheet reads as text: a single quote before a formula-like text.

    Examples
    --------
    >>> csv_text('=HYPERLINK("http://x")'), csv_text("-5"), csv_text("城关一小")
    ('\\'=HYPERLINK("http://x")', '-5', '城关一小')
    """
    return CSV_QUOTE + text if looks_like_formula(text) else text

