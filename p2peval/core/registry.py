"""A small explicit registry: names map to objects; unknown names raise with the valid choices."""

from __future__ import annotations

from typing import Generic, Iterator, TypeVar

from p2peval.core.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> object mapping that refuses unknown names with the list of valid ones."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T | None = None):
        """Register ``item`` under ``name``; usable as a decorator when ``item`` is omitted."""
        if item is None:
            def deco(obj: T) -> T:
                self.register(name, obj)
                return obj
            return deco
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} registered twice")
        self._items[name] = item
        return item

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            valid = ", ".join(sorted(self._items))
            raise ConfigError(f"unknown {self.kind} {name!r}; valid choices: {valid}") from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
