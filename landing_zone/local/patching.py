"""Guarded patches of moto's internals: a patch checks that what it replaces still exists with the signature it was
written against, and refuses loudly otherwise (a renamed attribute must not silently switch an emulation off).

moto is pinned exactly in pyproject.toml; tests/emulator/ runs every guard and shows every patch taking effect.
"""

from __future__ import annotations

import inspect
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
