"""The attacker of published tables: knows every published figure and nothing else, and tries to work
out the withheld ones by lines (as in a spreadsheet), by linear algebra, and by looking for a second
table of non-negative counts consistent with everything published.

A publication is anything with ``rows`` and ``columns`` (its interior size), ``at(row, column)`` (the
published figure with ``value`` and ``suppressed``, or None where the grid position is not published;
row ``rows`` holds the column totals, column ``columns`` the row totals) and ``suppressed`` (positions).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

Position = tuple[int, int]


class Publication(Protocol):
    @property
    def rows(self) -> int: ...

    @property
    def columns(self) -> int: ...

    @property
    def suppressed(self) -> frozenset[Position]: ...

    def at(self, row: int, column: int) -> Any: ...


def grid_signs(table: Publication) -> dict[Position, int]:
    """Signs that make every row and column of the grid with margins sum to zero."""
    rows, columns = table.rows, table.columns
    return {
        (i, j): -1 if (i == rows) != (j == columns) else 1
        for i in range(rows + 1)
        for j in range(columns + 1)
    }


def equations(table: Publication) -> tuple[list[Position], np.ndarray]:
    """The reader's equations over every grid position: each row and column of the signed grid sums
    to zero."""
    positions = sorted(grid_signs(table))
    index = {p: k for k, p in enumerate(positions)}
    signs = grid_signs(table)
    lines = [[(i, j) for j in range(table.columns + 1)] for i in range(table.rows + 1)]
    lines += [[(i, j) for i in range(table.rows + 1)] for j in range(table.columns + 1)]
    matrix = np.zeros((len(lines), len(positions)))
    for row, line in enumerate(lines):
        for position in line:
            matrix[row, index[position]] = signs[position]
    return positions, matrix


def known(table: Publication) -> dict[Position, int]:
    """What the attacker reads off the publication."""
    figures = {}
    for position in itertools.product(range(table.rows + 1), range(table.columns + 1)):
        figure = table.at(*position)
        if figure is not None and not figure.suppressed:
            assert figure.value is not None
            figures[position] = figure.value
    return figures


def recovered_by_lines(table: Publication) -> dict[Position, int]:
    """The spreadsheet attack: any row or column (margins included) with one unknown gives it back;
    repeat until nothing more comes. Answers the withheld cells it got back (figures that were never
    published, such as omitted totals, may come back too: they are no secret)."""
    values = known(table)
    signs = grid_signs(table)
    lines = [[(i, j) for j in range(table.columns + 1)] for i in range(table.rows + 1)]
    lines += [[(i, j) for i in range(table.rows + 1)] for j in range(table.columns + 1)]
    recovered: dict[Position, int] = {}
    progress = True
    while progress:
        progress = False
        for line in lines:
            missing = [p for p in line if p not in values]
            if len(missing) == 1:
                (position,) = missing
                rest = sum(signs[p] * values[p] for p in line if p != position)
                values[position] = recovered[position] = -rest * signs[position]
                progress = True
    return {p: v for p, v in recovered.items() if p in table.suppressed}


def determined_by_linear_algebra(table: Publication) -> set[Position]:
    """Unknowns whose value every real solution of the equations shares (rank test)."""
    positions, matrix = equations(table)
    values = known(table)
    unknown = [k for k, p in enumerate(positions) if p not in values]
    system = matrix[:, unknown]
    rank = np.linalg.matrix_rank(system)
    determined = set()
    for column, k in enumerate(unknown):
        unit = np.zeros((1, len(unknown)))
        unit[0, column] = 1
        if np.linalg.matrix_rank(np.vstack([system, unit])) == rank:
            determined.add(positions[k])
    return determined & table.suppressed


def truth(counts: Sequence[Sequence[int]]) -> dict[Position, int]:
    rows, columns = len(counts), len(counts[0])
    grid = {(i, j): counts[i][j] for i in range(rows) for j in range(columns)}
    for i in range(rows):
        grid[(i, columns)] = sum(counts[i])
    for j in range(columns):
        grid[(rows, j)] = sum(counts[i][j] for i in range(rows))
    grid[(rows, columns)] = sum(map(sum, counts))
    return grid


def second_table_differing_at(
    table: Publication, actual: dict[Position, int], target: Position
) -> dict[Position, int] | None:
    """A table other than the real one, of non-negative integers, agreeing with every published
    figure and differing at ``target``: proof that ``target`` cannot be recovered.

    Every integer difference between two consistent tables is an integer combination of fundamental
    cycles of the unknowns' graph; a single changed cell needs only coefficients -1, 0, 1."""
    positions, matrix = equations(table)
    values = known(table)
    unknown = [p for p in positions if p not in values]
    signs = grid_signs(table)
    basis = null_space_basis(matrix[:, [positions.index(p) for p in unknown]])
    if not basis:
        return None
    base = np.array([signs[p] * actual[p] for p in unknown])
    target_index = unknown.index(target)
    for coefficients in itertools.product((-1, 0, 1), repeat=len(basis)):
        change = sum(c * b for c, b in zip(coefficients, basis, strict=True))
        if not isinstance(change, np.ndarray) or change[target_index] == 0:
            continue
        other = base + change
        originals = [signs[p] * v for p, v in zip(unknown, other, strict=True)]
        if all(v >= 0 for v in originals):
            return dict(zip(unknown, (int(v) for v in originals), strict=True))
    return None


def null_space_basis(system: np.ndarray) -> list[np.ndarray]:
    """Integer fundamental cycles: the columns are edges of a bipartite graph (each column has a +1
    or -1 in one row-vertex line and one column-vertex line), so a spanning forest gives the basis."""
    edges = []
    for column in range(system.shape[1]):
        ends = [int(v) for v in np.nonzero(system[:, column])[0]]
        edges.append(ends)
    parent: dict[int, int] = {}

    def root(v: int) -> int:
        while parent.get(v, v) != v:
            v = parent[v]
        return v

    tree, chords = [], []
    for k, (a, b) in enumerate(edges):
        ra, rb = root(a), root(b)
        if ra == rb:
            chords.append(k)
        else:
            parent[ra] = rb
            tree.append(k)
    basis = []
    for chord in chords:
        vector = np.zeros(system.shape[1], dtype=int)
        vector[chord] = 1
        residual = system[:, chord].copy()
        # Solve for the tree edges' coefficients that cancel the chord at every vertex.
        solution, *_ = np.linalg.lstsq(system[:, tree], -residual, rcond=None)
        for k, value in zip(tree, solution, strict=True):
            vector[k] = round(value)
        assert np.allclose(system @ vector, 0)
        basis.append(vector)
    return basis


def assert_nothing_recoverable(table: Publication, counts: Sequence[Sequence[int]]) -> None:
    actual = truth(counts)
    assert recovered_by_lines(table) == {}
    assert determined_by_linear_algebra(table) == set()
    for position in table.suppressed:
        assert second_table_differing_at(table, actual, position) is not None, position
