"""Errors raised by the matching engine."""


class MatchingError(Exception):
    """Base class of every error the matching package raises on purpose."""


class InputError(MatchingError, ValueError):
    """A record or input file is malformed (also a ``ValueError``, as a parser's errors are).

    ``source``, ``row`` and ``column`` locate the fault when they are known, so a command line can
    print one line an operator can act on.
    """

    def __init__(
        self, message: str, *, source: str | None = None, row: int | None = None, column: str | None = None
    ) -> None:
        self.message = message
        self.source = source
        self.row = row
        self.column = column
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = []
        if self.source is not None:
            where.append(self.source)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        return ": ".join([", ".join(where), self.message]) if where else self.message


class ModelFormatError(MatchingError):
    """A saved model cannot be loaded: an unknown format version, or content that is not a valid model.

    The message names the part at fault (a field, a comparison), never a value from the model.
    """
