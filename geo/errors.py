"""Domain errors of schoolplan, the one place they are defined.

Every layer raises these; the CLI turns them into a clean message and exit code 2.

``InputError`` carries a list of :class:`Problem` so that validation can report
every problem at once, each naming the layer (file), the row or id, the column
and what is wrong.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass, field
from typing import TypeAlias


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input.

    Parameters
    ----------
    layer
        Layer name or file path the problem was found in (``schools``,
        ``scenario.toml`` ...).
    message
        What is wrong, in plain words.
    row
        Id (``school_id`` value) or 1-based row number, when the problem is tied
        to one record.
    column
        Column (or scenario key) concerned, when there is one: the canonical name.
    header
        The header the user's file gives that column (``年龄`` for ``age``), when it differs;
        the message shows it first, as the user sees it.
    """

    layer: str
    message: str
    row: str | int | None = None
    column: str | None = None
    header: str | None = None

    def __str__(self) -> str:
        where = self.layer
        if self.row is not None:
            where += f", {self.row}" if isinstance(self.row, str) else f", row {self.row}"
        if self.column is not None and self.header is not None and self.header != self.column:
            where += f", column '{self.header}' ({self.column})"
        elif self.column is not None:
            where += f", column '{self.column}'"
        return f"{where}: {self.message}"


def missing_columns(present: Container[str], required: Iterable[str], layer: str) -> list[Problem]:
    """One problem per required column absent from ``present`` (a frame or its columns).

    Example
    -------
    >>> [str(p) for p in missing_columns(["school_id"], ["school_id", "target"], "staffing_targets")]
    ["staffing_targets, column 'target': required column is missing"]
    """
    return [Problem(layer, "required column is missing", column=c) for c in required if c not in present]


class InputError(ValueError):
    """Bad input: files, columns, values or scenario settings.

    Parameters
    ----------
    problems
        Every problem found; the message lists them all, one per line.
    """

    def __init__(self, problems: Iterable[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(layer="input", message=problems)]
        self.problems: tuple[Problem, ...] = tuple(problems)
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} found in the input:"
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))


#: A figure a shortfall carries: a number, an id or name, a code word (``primary``), or a tuple of them.
Figure: TypeAlias = "int | float | str | tuple[Figure, ...]"


def figures(**values: Figure) -> tuple[tuple[str, Figure], ...]:
    """The figures of a :class:`Shortfall`, sorted by name (hashable, and the same order every run).

    Example
    -------
    >>> figures(students=543, seats=270)
    (('seats', 270), ('students', 543))
    """
    return tuple(sorted(values.items()))


@dataclass(frozen=True)
class Shortfall:
    """Where a plan cannot be made: an area or school short of seats or teachers.

    Parameters
    ----------
    where, short_by, unit, detail
        The place, the amount short, its unit and the English sentence on it (the console and
        ``shortfalls.csv`` show these as given).
    kind
        Which sentence this is (``zones.over_capacity`` ...): the report words a known kind in its
        own language from :attr:`figures`; an empty or unknown kind is shown in English as given.
    figures
        The numbers and names the sentence is made of, from :func:`figures`.
    """

    where: str
    short_by: int
    unit: str = "seats"
    detail: str = ""
    kind: str = ""
    figures: tuple[tuple[str, Figure], ...] = ()

    @property
    def values(self) -> dict[str, Figure]:
        """:attr:`figures` as a mapping."""
        return dict(self.figures)

    def __str__(self) -> str:
        text = f"{self.where}: short by {self.short_by} {self.unit}"
        return f"{text} ({self.detail})" if self.detail else text


@dataclass
class InfeasibleError(RuntimeError):
    """No plan satisfies the rules; says where and by how much.

    Parameters
    ----------
    summary
        One sentence on what cannot be done.
    shortfalls
        Each school or area that is short, and of how much.
    hint
        What the planner can change (e.g. allow overflow, raise the travel cap).
    """

    summary: str
    shortfalls: list[Shortfall] = field(default_factory=list)
    hint: str = ""

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        lines = [self.summary]
        lines += [f"  - {s}" for s in self.shortfalls]
        if self.hint:
            lines.append(f"Hint: {self.hint}")
        return "\n".join(lines)


class SolverError(RuntimeError):
    """The solver stopped without a usable solution (status other than OPTIMAL/FEASIBLE)."""
