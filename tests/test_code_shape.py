"""The code stays readable: short functions, few parameters (STYLE.md, issue on the architecture).

A function's length is counted from its ``def`` to its last line, leaving out its docstring; its
parameters leave out ``self``/``cls`` and an options object (``options``, ``params``).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("geo", "planning", "maps")
MAX_LINES = 80
MAX_PARAMS = 8
_NOT_COUNTED = frozenset({"self", "cls", "options", "params"})


def _functions() -> list[tuple[str, int, int]]:
    """``(where, lines without docstring, parameters)`` of every function in the packages."""
    out = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                doc = node.body[0] if node.body else None
                if isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant) and isinstance(doc.value.value, str):
                    lines -= (doc.end_lineno or doc.lineno) - doc.lineno + 1
                a = node.args
                names = [x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs) if x.arg not in _NOT_COUNTED]
                where = f"{path.relative_to(ROOT)}:{node.lineno} {node.name}"
                out.append((where, lines, len(names)))
    return out


def test_no_function_is_longer_than_a_screen() -> None:
    long = [f"{w} ({n} lines)" for w, n, _ in _functions() if n > MAX_LINES]
    assert not long, "split into named phases:\n" + "\n".join(long)


def test_no_function_takes_more_than_eight_parameters_besides_an_options_object() -> None:
    wide = [f"{w} ({k} parameters)" for w, _, k in _functions() if k > MAX_PARAMS]
    assert not wide, "gather settings into the model's options object:\n" + "\n".join(wide)
