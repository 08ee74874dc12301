"""Lifetime handling shared by every libhailort object wrapper (rules in hailort.py's docstring).

Each C handle lives in a `_Cell`. A parent cell (vdevice, network group) holds its child cells
(network groups, vstreams) strongly, and closing a cell closes its children first, newest first.
Ownership sits in the cells rather than in the Python wrappers on purpose: when wrappers end up in
a reference cycle, CPython clears weak references before it runs finalizers, and runs those in no
particular order. With strong cell links, whichever finalizer runs first, a vdevice is never
released before the vstreams created under it, and no handle is released twice.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from typing import Any, Protocol

from .library import Version


class HailoRTCalls(Protocol):
    """The part of :class:`~.hailort.HailoRT` that object wrappers use (resources, vstreams).

    Typing against this rather than ``HailoRT`` keeps resource.py and vstreams.py free of imports
    from hailort.py (which imports both). ``HailoRT`` satisfies it; so can a test double.
    """

    @property
    def version(self) -> Version:
        """Version of the loaded library (its ``major_minor`` selects layouts and messages)."""
        ...

    @property
    def vstream_info_t(self) -> type[ctypes.Structure]:
        """The ``hailo_vstream_info_t`` ctypes layout of the loaded library's version."""
        ...

    def call(self, name: str, *args: Any, detail: str = "") -> None:
        """Call C function ``name``; raise :class:`~.status.HailoRTError` unless it succeeds."""
        ...

    def status(self, name: str, *args: Any) -> int:
        """Call C function ``name`` and return its raw ``hailo_status``."""
        ...


class HailoRTClosed(RuntimeError):
    """An object (or its owner) was already closed; its handle is gone."""


class _Cell:
    """One library handle, how to release it, and the cells created under it."""

    __slots__ = ("value", "release", "lock", "children")

    def __init__(self, value: int, release: Callable[[int], None]) -> None:
        self.value: int | None = value
        self.release = release
        self.lock = threading.RLock()
        self.children: list[_Cell] = []

    def adopt(self, child: _Cell) -> None:
        with self.lock:
            # prune children that closed themselves (they never take this lock, see close())
            self.children = [c for c in self.children if c.value is not None]
            self.children.append(child)

    def close(self) -> None:
        """Release the children (newest first), then this handle; idempotent. The first library
        error is raised after everything has been released."""
        with self.lock:
            if self.value is None:
                return
            first_error: Exception | None = None
            for child in reversed(self.children):
                try:
                    child.close()
                except Exception as exc:  # keep releasing the rest
                    first_error = first_error or exc
            self.children = []
            value, self.value = self.value, None  # forget first: never reuse a released handle
            try:
                self.release(value)
            except Exception as exc:
                first_error = first_error or exc
        # A child never locks its parent: a parent closing in one thread while a child closes
        # in another cannot deadlock; the parent just finds the child already closed.
        if first_error is not None:
            raise first_error


def _no_release(handle: int) -> None:
    """For handles the C API has no release call for (configured network groups)."""


class _Resource:
    """Python face of one cell: lock-protected access to the handle, close(), context manager,
    quiet finalizer. `owner` is kept alive by a strong reference while this object lives."""

    _kind = "object"

    def __init__(self, rt: HailoRTCalls, handle: int, release: Callable[[int], None] | None,
                 owner: _Resource | None = None) -> None:
        self._rt = rt
        self._owner = owner
        cell = _Cell(handle, release or _no_release)
        if owner is not None:
            owner._cell.adopt(cell)
        self._cell = cell

    @property
    def _lock(self) -> threading.RLock:
        return self._cell.lock

    @property
    def _handle(self) -> int | None:
        return self._cell.value

    @property
    def closed(self) -> bool:
        return self._cell.value is None

    def _require_open(self) -> int:
        """The handle, or HailoRTClosed. Call with `self._lock` held so it cannot go away."""
        handle = self._cell.value
        if handle is None:
            raise HailoRTClosed(f"{self._kind} {self._describe()} is closed".rstrip())
        return handle

    def _describe(self) -> str:
        return ""

    def close(self) -> None:
        """Release this object and everything created under it (newest first). Idempotent."""
        self._cell.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        # Never raise from a finalizer; an object whose __init__ failed may have no cell.
        cell = getattr(self, "_cell", None)
        if cell is None or cell.value is None:
            return
        try:
            cell.close()
        except Exception:
            pass
