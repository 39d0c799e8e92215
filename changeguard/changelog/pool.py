"""Run independent, CPU-bound checks on every core (issue 17: `log verify` at 10k changes).

Re-deriving a submit (parse the stored plan, recompute its digest and summary) is most of a
replay and needs nothing from the replay's order, so forked workers do it while the parent
replays (`fork_start`), or up front (`fork_map`).
Forked children inherit the work list (nothing but indexes and results is pickled) and never
touch the parent's long-lived `git cat-file`: the work must be pure.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

T = TypeVar("T")
R = TypeVar("R")

MIN_ITEMS = 400  # below this a pool's start-up (~30 ms a worker) costs more than it saves
_WORK: tuple[Callable[[object], object], Sequence[object]] | None = None


def workers() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _run_slice(bounds: tuple[int, int]) -> list[object]:
    assert _WORK is not None
    fn, items = _WORK
    return [fn(items[i]) for i in range(*bounds)]


def fork_map(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """`[fn(x) for x in items]`, split over forked workers when that is worth it.

    Falls back to a plain loop where fork is unavailable or the list is short.
    """
    global _WORK
    n = workers()
    if n < 2 or len(items) < MIN_ITEMS or not hasattr(os, "fork"):
        return [fn(x) for x in items]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    step = -(-len(items) // n)
    bounds = [(i, min(i + step, len(items))) for i in range(0, len(items), step)]
    _WORK = (fn, items)  # type: ignore[assignment]
    try:
        with ProcessPoolExecutor(n - 1, mp_context=multiprocessing.get_context("fork")) as ex:
            pending = ex.map(_run_slice, bounds[1:])  # submitted now, collected below
            first = _run_slice(bounds[0])  # the parent works too
            parts = list(pending)
    finally:
        _WORK = None
    return [r for part in [first, *parts] for r in part]  # type: ignore[misc]


class Pending(Generic[R]):
    """Results of `fork_start`, collected by `result()`; `close()` ends the workers early."""

    def __init__(self, fn: Callable[[T], R], items: Sequence[T]) -> None:
        self._fn = fn
        self._items = items
        self._pool: ProcessPoolExecutor | None = None
        self._parts: Iterator[list[object]] | None = None

    def __enter__(self) -> Pending[R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def result(self) -> list[R]:
        """`[fn(x) for x in items]`, in order (computed here when no worker was started)."""
        if self._parts is None:
            return [self._fn(x) for x in self._items]
        try:
            return [r for part in self._parts for r in part]  # type: ignore[misc]
        finally:
            self.close()

    def close(self) -> None:
        """Stop the workers (those still busy are cancelled)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def fork_start(fn: Callable[[T], R], items: Sequence[T]) -> Pending[R]:
    """Start `[fn(x) for x in items]` on forked workers, one per core, and return at once.

    The parent keeps working meanwhile (`log verify` replays the log while the workers
    re-derive its submits) and collects with `Pending.result()`. A short list, or no fork,
    is computed in process at `result()`. The workers are forked here, so they see `items`
    as they are now; nothing but slice bounds and results is pickled.
    """
    global _WORK
    pending: Pending[R] = Pending(fn, items)
    n = workers()
    if n < 2 or len(items) < MIN_ITEMS or not hasattr(os, "fork"):
        return pending
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # a few slices per worker: an unlucky slice of big plans does not leave a core idle
    step = -(-len(items) // (n * 4))
    bounds = [(i, min(i + step, len(items))) for i in range(0, len(items), step)]
    _WORK = (fn, items)  # type: ignore[assignment]
    try:
        pool = ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("fork"),
                                   initializer=_yield_to_parent)
        pending._pool = pool
        pending._parts = pool.map(_run_slice, bounds)  # forks every worker now
    finally:
        _WORK = None  # the forked workers keep their copy
    return pending


NICE = 5  # workers' niceness above the parent's: about a third of its share of a busy core


def _yield_to_parent() -> None:
    """Run a `fork_start` worker below the parent's priority: the parent's work (the
    replay, and the git it waits for) is one chain that cannot be split; the workers' is
    any number of pieces, so they take what a core has left and finish last, with every
    core busy to the end, instead of leaving the parent alone on one core at the end."""
    import contextlib

    with contextlib.suppress(OSError):  # not permitted: the same priority as before
        os.nice(NICE)
