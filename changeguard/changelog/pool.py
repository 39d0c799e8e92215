"""Run independent, CPU-bound checks on every core (issue 17: `log verify` at 10k changes).

Re-deriving a submit (parse the stored plan, recompute its digest and summary) is most of a
replay and needs nothing from the replay's order, so forked workers do it while the parent
replays (`fork_start`).
Forked children inherit the work list (nothing but indexes and results is pickled) and never
touch the parent's long-lived `git cat-file`: the work must be pure.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MIN_ITEMS = 400  # below this a pool's start-up (~30 ms a worker) costs more than it saves


def workers() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class Pending(Generic[R]):
    """Results of `fork_start`, collected by `result()`; `close()` ends the workers early.

    The items are cut into slices whose numbers wait in a pipe (the tickets); each worker
    takes the next number, computes that slice, and at the end writes every slice it did to
    its own result pipe, pickled once. `result()` first takes the slices no worker took yet
    and computes them in this process (the replay is done by then: its core would idle),
    then reads the workers' results; a slice a worker did not return (it died, or its work
    raised) is computed here too, so an error is raised here as without workers."""

    def __init__(self, fn: Callable[[T], R], items: Sequence[T]) -> None:
        self._fn = fn
        self._items = items
        self._bounds: list[tuple[int, int]] = []
        self._tickets = -1  # read end of the slice numbers
        self._workers: list[tuple[int, int]] = []  # (pid, read end of its results)

    def __enter__(self) -> Pending[R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def result(self) -> list[R]:
        """`[fn(x) for x in items]`, in order (computed here when no worker was started)."""
        if not self._bounds:
            return [self._fn(x) for x in self._items]
        try:
            done: dict[int, list[object]] = {}
            while (i := _ticket(self._tickets)) is not None:
                done[i] = self._slice(i)
            for _, fd in self._workers:
                done.update(_results(fd))
            self._reap()
            parts = [done[i] if i in done else self._slice(i) for i in range(len(self._bounds))]
            return [r for part in parts for r in part]  # type: ignore[misc]
        finally:
            self.close()

    def _slice(self, i: int) -> list[object]:
        return [self._fn(self._items[k]) for k in range(*self._bounds[i])]

    def _reap(self) -> None:
        for pid, fd in self._workers:
            os.close(fd)
            os.waitpid(pid, 0)
        self._workers = []

    def close(self) -> None:
        """Stop the workers (those still busy are killed)."""
        import signal

        for pid, _ in self._workers:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        self._reap()
        if self._tickets >= 0:
            os.close(self._tickets)
            self._tickets = -1


_TICKET = 2  # bytes of a slice number in the ticket pipe (a read of 2 bytes is never split)


def _ticket(fd: int) -> int | None:
    got = os.read(fd, _TICKET)
    return int.from_bytes(got, "little") if len(got) == _TICKET else None


def _results(fd: int) -> dict[int, list[object]]:
    """What one worker wrote (nothing when it died before writing)."""
    import pickle

    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    try:
        got: dict[int, list[object]] = pickle.loads(b"".join(chunks))
    except Exception:  # cut short: its slices are computed again by the parent
        return {}
    return got


def _work(pending: Pending[R], out: int) -> None:
    """A forked worker: slices until the tickets run out, then all its results at once."""
    import pickle

    _yield_to_parent()
    done: dict[int, list[object]] = {}
    try:
        while (i := _ticket(pending._tickets)) is not None:
            done[i] = pending._slice(i)
    except BaseException:  # the parent computes that slice again, and raises there
        pass
    data = pickle.dumps(done, pickle.HIGHEST_PROTOCOL)
    view = memoryview(data)
    while view:
        view = view[os.write(out, view):]


SLICES_PER_WORKER = 8  # an unlucky slice of big plans does not leave a core idle


def fork_start(fn: Callable[[T], R], items: Sequence[T]) -> Pending[R]:
    """Start `[fn(x) for x in items]` on forked workers, one per core, and return at once.

    The parent keeps working meanwhile (`log verify` replays the log while the workers
    re-derive its submits) and collects with `Pending.result()`, computing there what no
    worker took yet. A short list, or no fork, is computed in process at `result()`. The
    workers are forked here, so they see `items` as they are now; nothing but slice
    numbers and results crosses a pipe (no executor, no thread in the parent).
    """
    pending: Pending[R] = Pending(fn, items)
    n = workers()
    if n < 2 or len(items) < MIN_ITEMS or not hasattr(os, "fork"):
        return pending
    step = -(-len(items) // (n * SLICES_PER_WORKER))
    pending._bounds = [(i, min(i + step, len(items))) for i in range(0, len(items), step)]
    r, w = os.pipe()
    try:
        os.write(w, b"".join(i.to_bytes(_TICKET, "little")
                             for i in range(len(pending._bounds))))
    finally:
        os.close(w)  # drained tickets read as the end: no worker waits for more
    pending._tickets = r
    for _ in range(n):
        _fork_worker(pending)
    return pending


def _fork_worker(pending: Pending[R]) -> None:
    r, w = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(r)
        os.close(w)
        return  # fewer workers: the parent computes what they would have
    if pid == 0:  # pragma: no cover - the forked child (its coverage is not collected)
        code = 0
        try:
            os.close(r)
            _work(pending, w)
        except BaseException:
            code = 1
        finally:
            os._exit(code)  # no atexit handler, no buffered output of the parent's
    os.close(w)
    pending._workers.append((pid, r))


NICE = 5  # workers' niceness above the parent's: about a third of its share of a busy core


def _yield_to_parent() -> None:
    """Run a `fork_start` worker below the parent's priority: the parent's work (the
    replay, and the git it waits for) is one chain that cannot be split; the workers' is
    any number of pieces, so they take what a core has left and finish last, with every
    core busy to the end, instead of leaving the parent alone on one core at the end."""
    with contextlib.suppress(OSError):  # not permitted: the same priority as before
        os.nice(NICE)
