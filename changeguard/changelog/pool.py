"""Run independent, CPU-bound checks on every core (issue 17: `log verify` at 10k changes).

Re-deriving a submit (parse the stored plan, recompute its digest and summary) is ~80% of a
replay and needs nothing from the replay's order, so it is done up front by forked workers.
Forked children inherit the work list (nothing but indexes and results is pickled) and never
touch the parent's long-lived `git cat-file`: the work must be pure.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TypeVar

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
