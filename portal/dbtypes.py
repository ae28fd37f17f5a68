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
        if value is None:
            return None
        quantum = Decimal(1).scaleb(-self.scale)
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-self.scale).quantize(quantum)
        return Decimal(value).quantize(quantum)

    @property
    def python_type(self) -> type:
        return Decimal
