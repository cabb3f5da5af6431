"""Field types shared by the scenario schema and its distributions.

Scenario sections are immutable pydantic models with strict field types: a TOML array
becomes a tuple (:func:`Seq`), a TOML table a :class:`FrozenDict` (:func:`Table`), and an
unknown field is an error, so a typo in a scenario file never passes silently.
"""

from __future__ import annotations

from typing import Annotated, Any, NoReturn, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

NonNeg = Annotated[float, Field(ge=0)]
Pos = Annotated[float, Field(gt=0)]
Prob = Annotated[float, Field(ge=0, le=1)]
Count = Annotated[int, Field(ge=0)]
Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]


class FrozenDict(dict[Any, Any]):
    """A dict that refuses changes: the tables a frozen scenario holds.

    Example:
        >>> d = FrozenDict({"a": 1})
        >>> d["a"] = 2
        Traceback (most recent call last):
        ...
        TypeError: a Scenario is immutable: build a changed copy with with_overrides()
    """

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("a Scenario is immutable: build a changed copy with with_overrides()")

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self) -> tuple[type[FrozenDict], tuple[dict[Any, Any]]]:
        # pickling and deepcopy rebuild it from a plain dict
        return (FrozenDict, (dict(self),))


def _as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")

#: An immutable sequence field (``Seq[Town]``): TOML arrays become tuples.
Seq = Annotated[tuple[T, ...], BeforeValidator(_as_tuple)]
#: An immutable mapping field (``Table[Key, Prob]``): TOML tables become FrozenDicts.
Table = Annotated[dict[K, V], AfterValidator(FrozenDict)]


class Strict(BaseModel):
    """Base for every section: unknown fields are errors, values are immutable."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, allow_inf_nan=False, validate_default=True
    )
