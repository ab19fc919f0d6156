"""Statistical disclosure control of published count tables: cell suppression.

A table is R x C counts with its row totals, column totals and grand total (each margin published or
not). Published counts below ``threshold`` (but not zero) single out a few people: they are withheld
(primary suppression). Withholding them is not enough when the margins are published: a row with one
withheld cell gives it back as ``total - the others``, and combinations of rows and columns give back
more. So further cells are withheld (secondary suppression) until no withheld cell can be worked out
from what is published.

The method, exact for two-way tables with margins:

* Write the table with its margins as an (R+1) x (C+1) grid, the totals negated (the grand total
  not). Then every row and every column of the grid sums to zero, and these are all the equations a
  reader has. Rows and columns are the vertices of a bipartite graph, each grid position an edge.
* A reader knows the published values, and that every count is a non-negative integer. A withheld
  value has another possible value exactly when one can add +1 and -1 alternately around a cycle of
  withheld (or unpublished) positions through it without making any count negative: then a second
  table, equally consistent with everything published, differs in that cell. Conversely, the
  difference between two consistent tables decomposes into such cycles, so a withheld cell on no such
  cycle is determined: it can be recomputed, however many equations that takes.
* So each withheld cell must lie on a *feasible* cycle: in a directed graph with an arc row -> column
  for a position whose count may go up by one in the grid's sign (a cell may always grow; a total
  only shrinks if it is at least 1) and an arc column -> row for a position whose count may go down
  (a cell of at least 1; a total may always grow), a directed cycle through one of its arcs.
* Each primary cell without one gets the cheapest completion: a shortest path (Dijkstra) that closes
  a directed cycle through it, over published positions weighted by their count (zeros only when
  nothing else will do, since a withheld zero can only grow and so leaks a bound). Every position on
  that path is withheld too; it lies on the new cycle, so it is protected by construction, and adding
  hidden positions never unprotects one, so one pass over the primary cells reaches the fixed point.

Unknown positions (``None``: not part of what is published, e.g. cells another society may not see)
take part as free unknowns; their values are taken as 0, which can only make the method withhold
more, never less.

This protects against exact recovery, the guarantee a threshold rule needs; it does not promise
wide intervals (tau-ARGUS calls that the protection level), and it protects each table on its own:
tables published together must not share cells or margins.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Position = tuple[int, int]

__all__ = ["Position", "ProtectedTable", "Published", "protect_table"]


@dataclass(frozen=True, slots=True)
class Published:
    """One published number: its value, or None with ``suppressed`` when it is withheld."""

    value: int | None
    suppressed: bool


@dataclass(frozen=True)
class ProtectedTable:
    """A table after suppression. Positions ``(row, column)`` index the grid with margins: row
    ``rows`` holds the column totals, column ``columns`` the row totals. ``values`` holds every count,
    the withheld ones too: publish only what ``at`` (or ``cell`` and the totals) answers."""

    rows: int
    columns: int
    values: dict[Position, int]
    published: frozenset[Position]
    primary: frozenset[Position]
    suppressed: frozenset[Position]

    def at(self, row: int, column: int) -> Published | None:
        """The published figure at a position; None when the position is not part of the table."""
        position = (row, column)
        if position not in self.published:
            return None
        if position in self.suppressed:
            return Published(None, True)
        return Published(self.values[position], False)

    def cell(self, row: int, column: int) -> Published | None:
        return self.at(row, column)

    def row_total(self, row: int) -> Published | None:
        return self.at(row, self.columns)

    def column_total(self, column: int) -> Published | None:
        return self.at(self.rows, column)

    def grand_total(self) -> Published | None:
        return self.at(self.rows, self.columns)


def protect_table(
    counts: Sequence[Sequence[int | None]],
    *,
    threshold: int,
    row_totals: bool | Sequence[bool] = True,
    column_totals: bool | Sequence[bool] = True,
    grand_total: bool | None = None,
) -> ProtectedTable:
    """Suppress the counts of ``counts`` (rows of equal length; None for a cell not published at all)
    and of the margins chosen for publication, so that no published count is below ``threshold`` and
    no withheld one can be recomputed (see the module docstring).

    ``row_totals`` and ``column_totals`` say which margins are published (all, none, or one flag per
    row or column); ``grand_total`` defaults to published when every row and column total is. A
    published total needs every cell of its line (a ValueError otherwise).
    """
    if threshold < 1:
        raise ValueError("threshold must be at least 1")
    grid = _Grid.build(counts, row_totals, column_totals, grand_total)
    primary = frozenset(p for p in grid.published if 0 < grid.values.get(p, 0) < threshold)
    hidden = _Hidden(grid)
    hidden.add(grid.unknown | primary)
    for position in sorted(primary):
        if not hidden.on_feasible_cycle(position):
            hidden.add(_cheapest_completion(grid, hidden.positions, position))
    return ProtectedTable(
        rows=grid.rows,
        columns=grid.columns,
        values=dict(grid.values),
        published=frozenset(grid.published),
        primary=primary,
        suppressed=frozenset(hidden.positions & grid.published),
    )


@dataclass(frozen=True)
class _Grid:
    rows: int
    columns: int
    values: dict[Position, int]  # every position whose value is known (published or not)
    published: frozenset[Position]

    @property
    def unknown(self) -> frozenset[Position]:
        return frozenset(self.positions()) - self.published

    def positions(self) -> Iterable[Position]:
        return ((i, j) for i in range(self.rows + 1) for j in range(self.columns + 1))

    def is_total(self, position: Position) -> bool:
        """Row and column totals enter the zero-sum grid negated; the grand total and cells do not."""
        i, j = position
        return (i == self.rows) != (j == self.columns)

    def may_go_up(self, position: Position) -> bool:
        """Whether the position's grid value may grow by one (arc row -> column)."""
        return not self.is_total(position) or self.values.get(position, 0) >= 1

    def may_go_down(self, position: Position) -> bool:
        """Whether the position's grid value may shrink by one (arc column -> row)."""
        return self.is_total(position) or self.values.get(position, 0) >= 1

    @classmethod
    def build(
        cls,
        counts: Sequence[Sequence[int | None]],
        row_totals: bool | Sequence[bool],
        column_totals: bool | Sequence[bool],
        grand_total: bool | None,
    ) -> _Grid:
        rows = len(counts)
        columns = len(counts[0]) if rows else 0
        if any(len(row) != columns for row in counts):
            raise ValueError("every row needs the same number of cells")
        values: dict[Position, int] = {}
        published: set[Position] = set()
        for i, row in enumerate(counts):
            for j, count in enumerate(row):
                if count is None:
                    continue
                if count < 0:
                    raise ValueError("counts are never negative")
                values[(i, j)] = count
                published.add((i, j))
        row_flags = _flags(row_totals, rows, "row_totals")
        column_flags = _flags(column_totals, columns, "column_totals")
        for i in range(rows):
            _add_total(values, published, (i, columns), [(i, j) for j in range(columns)], row_flags[i])
        for j in range(columns):
            _add_total(values, published, (rows, j), [(i, j) for i in range(rows)], column_flags[j])
        grand = all(row_flags) and all(column_flags) if grand_total is None else grand_total
        everything = [(i, j) for i in range(rows) for j in range(columns)]
        _add_total(values, published, (rows, columns), everything, grand)
        return cls(rows, columns, values, frozenset(published))


def _flags(flags: bool | Sequence[bool], size: int, name: str) -> list[bool]:
    if isinstance(flags, bool):
        return [flags] * size
    if len(flags) != size:
        raise ValueError(f"{name} needs one flag per line")
    return list(flags)


def _add_total(
    values: dict[Position, int],
    published: set[Position],
    position: Position,
    line: list[Position],
    publish: bool,
) -> None:
    known = all(p in values for p in line)
    if known:
        values[position] = sum(values[p] for p in line)
    if publish:
        if not known:
            raise ValueError("a published total needs every cell of its line")
        published.add(position)


# --- the graph: vertex i < rows+1 is row i, vertex rows+1+j is column j --------------------------------


def _column_vertex(grid: _Grid, j: int) -> int:
    return grid.rows + 1 + j


def _arcs(grid: _Grid, position: Position) -> list[tuple[int, int]]:
    """The arcs a hidden position contributes: row -> column if it may go up, back if it may go down."""
    i, j = position
    row, column = i, _column_vertex(grid, j)
    arcs = []
    if grid.may_go_up(position):
        arcs.append((row, column))
    if grid.may_go_down(position):
        arcs.append((column, row))
    return arcs


class _Hidden:
    """The withheld and unpublished positions, and the directed graph of their arcs."""

    def __init__(self, grid: _Grid) -> None:
        self.grid = grid
        self.positions: set[Position] = set()
        self.successors: dict[int, list[tuple[int, Position]]] = {}

    def add(self, positions: Iterable[Position]) -> None:
        for position in sorted(set(positions) - self.positions):
            self.positions.add(position)
            for tail, head in _arcs(self.grid, position):
                self.successors.setdefault(tail, []).append((head, position))

    def on_feasible_cycle(self, position: Position) -> bool:
        """Whether ``position`` lies on a directed cycle of hidden positions (it has a second value).
        Its own opposite arc does not count: up and down by one on the same cell changes nothing."""
        return any(self._reaches(head, tail, position) for tail, head in _arcs(self.grid, position))

    def _reaches(self, start: int, goal: int, excluded: Position) -> bool:
        seen, frontier = {start}, [start]
        while frontier:
            vertex = frontier.pop()
            if vertex == goal:
                return True
            for nxt, position in self.successors.get(vertex, ()):
                if position != excluded and nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)
        return False


def _cheapest_completion(grid: _Grid, hidden: set[Position], position: Position) -> set[Position]:
    """The published positions to withhold so that ``position`` lies on a feasible directed cycle:
    the cheapest path closing a cycle through one of its arcs (cost: the counts withheld, then how
    many; a zero costs more than all counts together)."""
    zero_cost = 1 + sum(grid.values[p] for p in grid.published)
    best: tuple[tuple[int, int], list[Position]] | None = None
    for tail, head in _arcs(grid, position):
        found = _shortest_path(grid, hidden, position, start=head, goal=tail, zero_cost=zero_cost)
        if found is not None and (best is None or found[0] < best[0]):
            best = found
    if best is None:  # unreachable: the three margins of a positive cell always close a cycle
        raise AssertionError("no cycle can protect this cell")
    return {p for p in best[1] if p not in hidden}


def _shortest_path(
    grid: _Grid, hidden: set[Position], excluded: Position, *, start: int, goal: int, zero_cost: int
) -> tuple[tuple[int, int], list[Position]] | None:
    """Dijkstra over the complete bipartite digraph of the grid's positions (except ``excluded``)."""
    distance: dict[int, tuple[int, int]] = {start: (0, 0)}
    previous: dict[int, tuple[int, Position]] = {}
    queue: list[tuple[tuple[int, int], int]] = [((0, 0), start)]
    done: set[int] = set()
    while queue:
        cost, vertex = heapq.heappop(queue)
        if vertex in done:
            continue
        done.add(vertex)
        if vertex == goal:
            return cost, _walk_back(previous, start, goal)
        for nxt, position in _out_arcs(grid, vertex):
            if position == excluded:
                continue
            step = _step_cost(grid, hidden, position, zero_cost)
            candidate = (cost[0] + step[0], cost[1] + step[1])
            if nxt not in distance or candidate < distance[nxt]:
                distance[nxt] = candidate
                previous[nxt] = (vertex, position)
                heapq.heappush(queue, (candidate, nxt))
    return None


def _out_arcs(grid: _Grid, vertex: int) -> Iterable[tuple[int, Position]]:
    if vertex <= grid.rows:  # a row: up-arcs to every column
        for j in range(grid.columns + 1):
            position = (vertex, j)
            if grid.may_go_up(position):
                yield _column_vertex(grid, j), position
    else:  # a column: down-arcs to every row
        j = vertex - grid.rows - 1
        for i in range(grid.rows + 1):
            position = (i, j)
            if grid.may_go_down(position):
                yield i, position


def _step_cost(grid: _Grid, hidden: set[Position], position: Position, zero_cost: int) -> tuple[int, int]:
    if position in hidden:
        return (0, 0)
    value = grid.values[position]
    return (value if value > 0 else zero_cost, 1)


def _walk_back(previous: dict[int, tuple[int, Position]], start: int, goal: int) -> list[Position]:
    path = []
    vertex = goal
    while vertex != start:
        vertex, position = previous[vertex]
        path.append(position)
    return path
