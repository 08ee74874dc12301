"""Publishing off the burst thread: a worker fed by one-slot "latest" hand-offs (no rclpy).

The burst thread must never wait for a message to be built or sent (a big ``~/firing``, a
slow subscriber, a busy DDS queue). It :meth:`~LatestHandoff.offer`\\ s what is to be
published and goes on; a worker thread takes it and publishes it. Each kind of message
(``firing``, ``cloud``) has one slot holding the newest offer: an offer the worker has not
taken yet is replaced, never queued behind (a stale ``~/firing`` is worth less than the
current one, and a queue would grow without bound when the worker is slower than the
bursts). Replaced offers are counted in :attr:`LatestHandoff.dropped`.

An offer must not change after it is made (the worker reads it later): the node hands over
the burst's own read-only arrays (``fired.FiredByArea``), so a published message always
describes exactly one burst.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any


class LatestHandoff:
    """A worker thread that calls ``handle(kind, item)`` with the newest item of each kind.

    Args:
        handle: Called on the worker thread with each item taken (kinds in the order first
            offered since the worker last took them).
        name: Name of the worker thread.
        on_error: Called on the worker thread with an exception ``handle`` raised; the worker
            then ends (like the burst loop, an error stops it; the caller decides the rest).
    """

    def __init__(self, handle: Callable[[str, Any], object], *, name: str = "feagi_firing",
                 on_error: Callable[[BaseException], object] | None = None) -> None:
        self._handle = handle
        self._on_error = on_error
        self._name = name
        # The slots are guarded by a plain lock and the worker is woken through a SimpleQueue:
        # both are C code, so an offer costs the burst thread about a microsecond, where a
        # threading.Condition's notify runs Python.
        self._lock = threading.Lock()
        self._wake: queue.SimpleQueue[None] = queue.SimpleQueue()
        self._slots: dict[str, Any] = {}
        self._stopping = True  # until start(): offers are dropped
        self._thread: threading.Thread | None = None
        #: kind -> offers replaced before the worker took them.
        self.dropped: dict[str, int] = {}
        #: kind -> items handled.
        self.handled: dict[str, int] = {}
        #: The exception that ended the worker, if one did (cleared by start()).
        self.error: BaseException | None = None

    @property
    def running(self) -> bool:
        """Whether the worker thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the worker (a no-op while running); slots left from before are emptied."""
        if self.running:
            return
        with self._lock:
            self._slots.clear()
            self._stopping = False
        while not self._wake.empty():  # wake-ups left from before (a stop's)
            self._wake.get_nowait()
        self.error = None
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def offer(self, kind: str, item: Any) -> None:
        """Make ``item`` the next ``kind`` to handle, replacing one not taken yet.

        Never waits for the worker: it takes a lock the worker holds only to swap the slots
        out, never while it handles an item, and wakes the worker only when the slots were
        empty. Offers while stopped are dropped.
        """
        with self._lock:
            if self._stopping:
                return
            waiting = bool(self._slots)
            if kind in self._slots:
                self.dropped[kind] = self.dropped.get(kind, 0) + 1
            self._slots[kind] = item
        if not waiting:  # the worker was woken for the slots already filled
            self._wake.put(None)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the worker after the item it is handling; items not taken are dropped.

        Waits up to ``timeout`` seconds for the thread (never call from ``handle``).
        """
        with self._lock:
            self._stopping = True
            self._slots.clear()  # let go of the burst results now (the worker drops them anyway)
        self._wake.put(None)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        while True:
            self._wake.get()
            with self._lock:
                if self._stopping:
                    return
                taken, self._slots = self._slots, {}
            for kind, item in taken.items():
                try:
                    self._handle(kind, item)
                except BaseException as exc:  # noqa: BLE001 - reported, then the worker ends
                    self.error = exc
                    if self._on_error is not None:
                        self._on_error(exc)
                    return
                self.handled[kind] = self.handled.get(kind, 0) + 1
