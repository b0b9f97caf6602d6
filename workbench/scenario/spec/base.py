"""What every scenario model shares: ``Strict``, the base (unknown keys are errors, instances
are frozen, numbers are finite and a yes/no value is not a number), and ``NodeTag``."""

from __future__ import annotations

from typing import Annotated, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

NodeTag = Annotated[str, Field(pattern=r"^[A-Z]{1,4}$", description="1-4 uppercase letters")]


def _takes_bool(annotation: object) -> bool:
    """Whether a field's type admits a yes/no value (bool itself, or a union or literal with one)."""
    if annotation is bool:
        return True
    if isinstance(annotation, str):
        return "bool" in annotation or "True" in annotation or "False" in annotation
    return any(_takes_bool(arg) or isinstance(arg, bool) for arg in get_args(annotation))


class Strict(BaseModel):
    """Base: unknown keys are errors, instances are immutable, numbers are finite (no inf or
    nan) and a yes/no value is not a number (pydantic would read ``count: true`` as 1)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, arbitrary_types_allowed=True, validate_default=True, allow_inf_nan=False
    )

    @model_validator(mode="before")
    @classmethod
    def _no_bool_as_number(cls, data: object) -> object:
        if isinstance(data, dict):
            fields = cls.model_fields
            by_alias = {f.alias: f for f in fields.values() if f.alias}
            for key, value in data.items():
                if not isinstance(value, bool):
                    continue
                field = fields.get(key) or by_alias.get(key)
                if field is not None and not _takes_bool(field.annotation):
                    msg = f"{key}: {value!r} is a yes/no value; a number or text belongs here"
                    raise ValueError(msg)
        return data
