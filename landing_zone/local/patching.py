"""Guarded patches of moto's internals: a patch checks that what it replaces still exists with the signature it was
written against, and refuses loudly otherwise (a renamed attribute must not silently switch an emulation off).

moto is pinned exactly in pyproject.toml; tests/emulator/ runs every guard and shows every patch taking effect.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from importlib.metadata import version
from typing import Any


class MotoChanged(RuntimeError):
    """moto no longer has the attribute, method or signature an emulator patch was written against."""


def _where(owner: Any, name: str) -> str:
    return f"{getattr(owner, '__module__', owner.__name__)}.{getattr(owner, '__qualname__', '')}.{name}".replace(
        "..", "."
    )


def require(owner: Any, name: str, params: tuple[str, ...] | None = None) -> Any:
    """`owner.name`, checked: it exists and, when `params` is given, takes exactly those parameters."""
    if not hasattr(owner, name):
        raise MotoChanged(f"moto {version('moto')}: {_where(owner, name)} no longer exists; update the emulator patch")
    attr = getattr(owner, name)
    if params is not None:
        actual = tuple(inspect.signature(attr).parameters)
        if actual != params:
            raise MotoChanged(
                f"moto {version('moto')}: {_where(owner, name)} takes {actual}, the emulator patch expects {params}"
            )
    return attr


def require_instance_attribute(obj: Any, name: str) -> Any:
    """An attribute moto sets in __init__ (not visible on the class), checked on a live object."""
    if not hasattr(obj, name):
        raise MotoChanged(
            f"moto {version('moto')}: {type(obj).__module__}.{type(obj).__qualname__} objects have no {name!r}; "
            "update the emulator patch"
        )
    return getattr(obj, name)


@contextlib.contextmanager
def added(owner: Any, members: dict[str, Any]) -> Iterator[None]:
    """Add `members` to `owner` (a moto class or a urls module's dict) until exit. Each must be missing: moto
    gaining one means moto now emulates it, and the patch must be reviewed rather than silently shadow it."""
    is_dict = isinstance(owner, dict)
    for name in members:
        if (name in owner) if is_dict else hasattr(owner, name):
            where = "its url_paths" if is_dict else _where(owner, name)
            raise MotoChanged(f"moto {version('moto')}: {where} now has {name!r}; review the emulator patch")
    for name, member in members.items():
        if is_dict:
            owner[name] = member
        else:
            setattr(owner, name, member)
    try:
        yield
    finally:
        for name in members:
            if is_dict:
                owner.pop(name, None)
            else:
                delattr(owner, name)


@contextlib.contextmanager
def replaced(owner: Any, name: str, params: tuple[str, ...], make: Any) -> Iterator[None]:
    """Replace `owner.name` (checked with `require`) by `make(original)` until exit."""
    original = require(owner, name, params)
    setattr(owner, name, make(original))
    try:
        yield
    finally:
        setattr(owner, name, original)
