"""Cell suppression: small counts are withheld, and an attacker holding everything published cannot
work any withheld cell out again (by lines, by linear algebra, or by searching every table consistent
with what is published)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privacy import ProtectedTable, Published, protect_table

Position = tuple[int, int]
THRESHOLD = 5


# --- the attacker: knows every published value, nothing else ------------------------------------------


def grid_signs(table: ProtectedTable) -> dict[Position, int]:
    """Signs that make every row and column of the grid with margins sum to zero."""
    rows, columns = table.rows, table.columns
    return {
        (i, j): -1 if (i == rows) != (j == columns) else 1
        for i in range(rows + 1)
        for j in range(columns + 1)
    }


def equations(table: ProtectedTable) -> tuple[list[Position], np.ndarray]:
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


def known(table: ProtectedTable) -> dict[Position, int]:
    """What the attacker reads off the publication."""
    figures = {}
    for position in itertools.product(range(table.rows + 1), range(table.columns + 1)):
        figure = table.at(*position)
        if figure is not None and not figure.suppressed:
            assert figure.value is not None
            figures[position] = figure.value
    return figures


def recovered_by_lines(table: ProtectedTable) -> dict[Position, int]:
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


def determined_by_linear_algebra(table: ProtectedTable) -> set[Position]:
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
    table: ProtectedTable, actual: dict[Position, int], target: Position
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


def assert_nothing_recoverable(table: ProtectedTable, counts: Sequence[Sequence[int]]) -> None:
    actual = truth(counts)
    assert recovered_by_lines(table) == {}
    assert determined_by_linear_algebra(table) == set()
    for position in table.suppressed:
        assert second_table_differing_at(table, actual, position) is not None, position


# --- the rule itself --------------------------------------------------------------------------------


def test_small_counts_are_withheld_and_zeros_and_large_counts_published() -> None:
    table = protect_table([[0, 5, 4]], threshold=THRESHOLD, row_totals=False, column_totals=False)

    assert table.cell(0, 0) == Published(0, False)
    assert table.cell(0, 1) == Published(5, False)
    assert table.cell(0, 2) == Published(None, True)
    assert table.row_total(0) is None
    assert table.grand_total() is None


def test_a_row_with_one_small_cell_withholds_a_second_one_and_its_column_partners() -> None:
    counts = [[3, 10, 12], [7, 8, 20]]
    table = protect_table(counts, threshold=THRESHOLD)

    assert table.primary == {(0, 0)}
    # The cheapest cycle through (0, 0): the two smallest partners in its row, column and the cell
    # that closes the rectangle.
    assert table.suppressed == {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert table.row_total(0) == table.at(0, 3) == Published(25, False)
    assert_nothing_recoverable(table, counts)


def test_primary_suppression_alone_gives_the_cell_back_to_the_attacker() -> None:
    """The attack works: were only the small cell withheld, the margins would give it back."""
    counts = [[3, 10, 12], [7, 8, 20]]
    table = protect_table(counts, threshold=THRESHOLD)
    primary_only = ProtectedTable(
        rows=table.rows,
        columns=table.columns,
        values=table.values,
        published=table.published,
        primary=table.primary,
        suppressed=table.primary,
    )

    assert recovered_by_lines(primary_only) == {(0, 0): 3}
    assert determined_by_linear_algebra(primary_only) == {(0, 0)}
    assert second_table_differing_at(primary_only, truth(counts), (0, 0)) is None


def test_a_total_below_the_threshold_is_withheld_with_what_would_give_it_back() -> None:
    counts = [[1, 2], [30, 40]]
    table = protect_table(counts, threshold=THRESHOLD)

    assert {(0, 0), (0, 1), (0, 2)} <= table.primary  # both cells and their row total of 3
    assert table.row_total(0) == Published(None, True)
    assert_nothing_recoverable(table, counts)


def test_two_protected_blocks_joined_by_one_cell_still_protect_the_join() -> None:
    """Every line holds two or more withheld cells, yet a cell joining two closed groups would be a
    bridge: solvable. The method withholds more until it lies on a cycle."""
    counts = [
        [2, 2, 3, 50],
        [2, 2, 50, 50],
        [50, 50, 2, 2],
        [50, 50, 2, 2],
    ]
    table = protect_table(counts, threshold=THRESHOLD)

    assert (0, 2) in table.suppressed
    assert_nothing_recoverable(table, counts)


def test_a_series_with_only_its_total_published_needs_a_second_withheld_period() -> None:
    periods = [[2], [30], [12], [0]]
    table = protect_table(periods, threshold=THRESHOLD, row_totals=False, grand_total=False)

    assert table.primary == {(0, 0)}
    assert table.suppressed == {(0, 0), (2, 0)}  # the smallest other non-zero period
    assert table.column_total(0) == Published(44, False)
    assert table.cell(3, 0) == Published(0, False)
    assert_nothing_recoverable(table, periods)


def test_zeros_are_not_withheld_while_counts_can_protect_instead() -> None:
    counts = [[3, 0, 20], [0, 0, 20]]
    table = protect_table(counts, threshold=THRESHOLD)

    assert table.primary == {(0, 0), (2, 0)}  # the cell and its column total
    assert all(table.values[p] > 0 for p in table.suppressed)
    assert table.cell(0, 1) == Published(0, False)
    assert_nothing_recoverable(table, counts)


def test_cells_outside_the_publication_take_part_as_unknowns() -> None:
    """A society sees only its own row and column of a flows matrix (None elsewhere)."""
    counts: list[list[int | None]] = [[9, 3, 20], [6, None, None], [11, None, None]]
    table = protect_table(
        counts,
        threshold=THRESHOLD,
        row_totals=[True, False, False],
        column_totals=[True, False, False],
        grand_total=False,
    )

    assert table.cell(1, 1) is None
    assert table.row_total(1) is None
    assert table.primary == {(0, 1)}
    # Row 0 and column 0 are published with their totals: the 3 hides with the 9 of its row and the 6
    # below that, whose row runs on into cells nobody outside sees.
    assert table.suppressed == {(0, 1), (0, 0), (1, 0)}
    assert table.row_total(0) == Published(32, False)
    visible = {p: v for p, v in table.values.items() if p in table.published}
    assert set(visible) == {(0, 0), (0, 1), (0, 2), (1, 0), (2, 0), (0, 3), (3, 0)}
    assert recovered_by_lines(table) == {}
    assert determined_by_linear_algebra(table) == set()


def test_bad_tables_are_refused() -> None:
    with pytest.raises(ValueError, match="threshold"):
        protect_table([[1]], threshold=0)
    with pytest.raises(ValueError, match="same number"):
        protect_table([[1, 2], [3]], threshold=THRESHOLD)
    with pytest.raises(ValueError, match="negative"):
        protect_table([[1, -2]], threshold=THRESHOLD)
    with pytest.raises(ValueError, match="every cell of its line"):
        protect_table([[1, None]], threshold=THRESHOLD)
    with pytest.raises(ValueError, match="one flag per line"):
        protect_table([[1, 2]], threshold=THRESHOLD, row_totals=[True, False])


def test_an_empty_table_publishes_a_zero_total() -> None:
    table = protect_table([], threshold=THRESHOLD)

    assert table.grand_total() == Published(0, False)


# --- every table, whatever its counts ----------------------------------------------------------------

small_tables = st.integers(min_value=1, max_value=3).flatmap(
    lambda rows: st.integers(min_value=1, max_value=3).flatmap(
        lambda columns: st.lists(
            st.lists(
                st.one_of(st.just(0), st.integers(1, 4), st.integers(5, 30)),
                min_size=columns,
                max_size=columns,
            ),
            min_size=rows,
            max_size=rows,
        )
    )
)


@settings(max_examples=150, deadline=None)
@given(small_tables)
def test_no_published_count_is_small_and_no_withheld_one_can_be_recovered(counts: list[list[int]]) -> None:
    table = protect_table(counts, threshold=THRESHOLD)

    for position in table.published - table.suppressed:
        assert not 0 < table.values[position] < THRESHOLD
    assert_nothing_recoverable(table, counts)


@settings(max_examples=60, deadline=None)
@given(small_tables)
def test_series_without_row_totals_are_protected_too(counts: list[list[int]]) -> None:
    table = protect_table(counts, threshold=THRESHOLD, row_totals=False, grand_total=False)

    for position in table.published - table.suppressed:
        assert not 0 < table.values[position] < THRESHOLD
    assert recovered_by_lines(table) == {}
    assert determined_by_linear_algebra(table) == set()
