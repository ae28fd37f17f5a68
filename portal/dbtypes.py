"""Column types shared by system and generated models."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Numeric
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class ExactDecimal(TypeDecorator):
    """A decimal that is exact on every backend.

    PostgreSQL stores it as ``NUMERIC(digits, scale)``. SQLite has no exact decimal (it rounds
    through floats), so there the value is stored as an integer count of ``10**-scale`` units.
    Values with more decimal places than ``scale`` are refused, never rounded.
    """

    impl = Numeric
    cache_ok = True

    def __init__(self, digits: int = 18, scale: int = 2) -> None:
        super().__init__(precision=digits, scale=scale, asdecimal=True)
        self.digits = digits
        self.scale = scale

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(self.digits, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        quantum = Decimal(1).scaleb(-self.scale)
        if number != number.quantize(quantum):
            raise ValueError(f"{number} has more than {self.scale} decimal places")
        if dialect.name == "sqlite":
            return int(number.scaleb(self.scale))
        return number

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return self.result_processor(dialect, None)(value) if value is not None else None

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        """Per-value conversion with the quantum computed once (money columns are read in
        every list)."""
        quantum = Decimal(1).scaleb(-self.scale)
        places = -self.scale
        if dialect.name == "sqlite":
            def from_units(value: Any) -> Any:
                return None if value is None else \
                    Decimal(int(value)).scaleb(places).quantize(quantum)
            return from_units
        numeric = self.load_dialect_impl(dialect).result_processor(dialect, coltype)

        def exact(value: Any) -> Any:
            if numeric is not None:
                value = numeric(value)
            return None if value is None else Decimal(value).quantize(quantum)
        return exact

    @property
    def python_type(self) -> type:
        return Decimal
