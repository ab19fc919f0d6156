"""Report tables built from counts and durations: what is published, withheld or left out."""

from __future__ import annotations

from rfl.reports.tables import TOTAL, WITHHELD, Figure, count_table, duration_table, share_table


def test_a_count_table_publishes_its_margins_and_withholds_small_counts() -> None:
    table = count_table(
        "t",
        "d",
        row_dimension="period",
        rows=("2026-01", "2026-02"),
        column_dimension="status",
        columns=("open", "closed"),
        counts={
            ("2026-01", "open"): 12,
            ("2026-01", "closed"): 2,
            ("2026-02", "open"): 9,
            ("2026-02", "closed"): 7,
        },
        threshold=5,
    )

    assert table.rows == ("2026-01", "2026-02", TOTAL)
    assert table.columns == ("open", "closed", TOTAL)
    assert table.figure("2026-01", "closed") == WITHHELD
    assert table.figure(TOTAL, TOTAL) == Figure(30)
    # The 2 would be its row total less 12: the 2x2 interior is withheld, every margin stays.
    assert [table.figure(r, c) for r in ("2026-01", "2026-02") for c in ("open", "closed")] == [WITHHELD] * 4
    assert table.figure("2026-01", TOTAL) == Figure(14)


def test_positions_not_visible_are_left_out_of_the_table() -> None:
    table = count_table(
        "t",
        "d",
        row_dimension="asking",
        rows=("DE", "IT"),
        column_dimension="finding",
        columns=("DE", "IT"),
        counts={("DE", "DE"): 8, ("DE", "IT"): 6, ("IT", "DE"): 7, ("IT", "IT"): 9},
        threshold=5,
        visible=lambda asking, finding: "IT" in (asking, finding),
        row_totals=[False, True],
        column_totals=[False, True],
        grand_total=False,
    )

    assert table.figure("DE", "DE") is None
    assert table.figure("DE", TOTAL) is None
    assert table.figure("IT", TOTAL) == Figure(16)
    assert table.figure(TOTAL, "IT") == Figure(15)
    assert table.figure("DE", "IT") == Figure(6)


def test_durations_show_median_and_90th_percentile_only_for_large_enough_groups() -> None:
    days = {"2026-01": [1.0, 2.0, 3.0, 4.0, 10.0], "2026-02": [5.0, 6.0]}

    table = duration_table("t", "d", periods=("2026-01", "2026-02", "2026-03"), days=days, threshold=5)

    assert table.figure("2026-01", "median_days") == Figure(3.0)
    assert table.figure("2026-01", "p90_days") == Figure(7.6)  # 4 + 0.6 * (10 - 4)
    assert table.figure("2026-02", "median_days") == WITHHELD
    assert table.figure("2026-03", "median_days") == WITHHELD  # none looks like a few
    assert table.figure(TOTAL, "median_days") == Figure(4.0)
    assert table.columns == ("median_days", "p90_days")


def test_a_share_is_withheld_when_what_it_is_made_of_is() -> None:
    source = count_table(
        "s",
        "d",
        row_dimension="period",
        rows=("a", "b"),
        column_dimension="status",
        columns=("confirmed", "rejected"),
        counts={("a", "confirmed"): 30, ("a", "rejected"): 10, ("b", "confirmed"): 2, ("b", "rejected"): 40},
        threshold=5,
    )

    shares = share_table(
        "share",
        "d",
        source=source,
        rows=("a", "b"),
        numerator="confirmed",
        denominator=("confirmed", "rejected"),
    )

    assert source.figure("a", "confirmed") == WITHHELD  # partner of b's 2
    assert shares.figure("a", "share") == WITHHELD
    assert shares.figure("b", "share") == WITHHELD
    assert shares.figure(TOTAL, "share") == Figure(round(32 / 82, 3))
