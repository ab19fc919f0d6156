"""Cell suppression: small counts are withheld, and an attacker holding everything published cannot
work any withheld cell out again (by lines, by linear algebra, or by searching every table consistent
with what is published)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privacy import ProtectedTable, Published, protect_table
from tests.privacy.attacks import (
    assert_nothing_recoverable,
    determined_by_linear_algebra,
    recovered_by_lines,
    second_table_differing_at,
    truth,
)

THRESHOLD = 5


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
