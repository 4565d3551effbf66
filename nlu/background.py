"""Training work handed to a second core: a forked child process runs one function and sends its
result back through a pipe.

Training fits parts that do not depend on each other: the cascade's cheap and encoder models'
linear SVMs (the same TF-IDF blocks, each its own liblinear problem) and the entity CRF. On a
machine with two cores they run side by side. A process rather than a thread: liblinear releases
the GIL, but scikit-learn's copy of it draws its random permutations from one process-wide
generator (a Mersenne twister in ``newrand.h``), which two threads would share and race on, so
the fits would differ from run to run; each forked child has its own copy, seeded by the fit as in
the parent, and returns exactly what the same call returns in the parent. The CRF's features
are Python, which a thread could not run beside the classifier's either.

The child is forked: it starts with the parent's memory (copy on write: no input is pickled) and
only the result travels back. Where fork is not available, in a daemonic process, on one core, or
inside `inline()`, the function runs at once in the calling process: the same result, one part
after the other.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import traceback
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any, Generic, TypeVar

_T = TypeVar("_T")
_INLINE: list[bool] = []  # inside `inline()`


def cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def parallel() -> bool:
    """Whether `start` hands work to a child process here and now."""
    return (
        not _INLINE
        and cores() > 1
        and "fork" in multiprocessing.get_all_start_methods()
        and not multiprocessing.current_process().daemon
    )


@contextlib.contextmanager
def inline() -> Iterator[None]:
    """Within the block, `start` runs its function in the calling process (the sequential
    training, for comparisons; not thread-safe: one training at a time)."""
    _INLINE.append(True)
    try:
        yield
    finally:
        _INLINE.pop()


class Job(Generic[_T]):
    """A function's result, computed in a child process or already at hand."""

    def __init__(self, value: _T | None, proc: Any = None, conn: Connection | None = None) -> None:
        self._value = value
        self._proc = proc
        self._conn = conn

    def result(self) -> _T:
        """Wait for the child and return its result (or raise its exception)."""
        if self._conn is None:
            return self._value  # type: ignore[return-value]  # set when run inline
        conn, proc = self._conn, self._proc
        try:
            ok, payload = conn.recv()
        except EOFError:
            proc.join()
            raise RuntimeError(f"training child process ended with code {proc.exitcode}") from None
        finally:
            conn.close()
            self._conn = None
        proc.join()
        if not ok:
            raise payload
        self._value = payload
        return payload  # type: ignore[no-any-return]

    def cancel(self) -> None:
        """Stop the child if it is still running (the caller failed and will not wait)."""
        if self._conn is not None:
            self._proc.terminate()
            self._proc.join()
            self._conn.close()
            self._conn = None

    def __del__(self) -> None:
        self.cancel()  # a job nobody waits for: its child would wait on a full pipe


def start(fn: Callable[[], _T]) -> Job[_T]:
    """Run ``fn`` in a forked child process when `parallel`, else now."""
    if not parallel():
        return Job(fn())
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    # daemonic: ended with the parent should the parent exit without waiting
    proc = ctx.Process(target=_child, args=(fn, send, recv), daemon=True, name="nlu-train")
    proc.start()
    send.close()
    return Job(None, proc, recv)


def _child(fn: Callable[[], Any], send: Connection, recv: Connection) -> None:
    # the parent's end, inherited by the fork: closed, so that should the parent die, sending
    # fails (a broken pipe) and this process ends instead of waiting on a full pipe for ever
    recv.close()
    text = ""
    try:
        out: tuple[bool, Any] = (True, fn())
    except BaseException as e:  # handed to the parent, which raises it
        out, text = (False, e), traceback.format_exc()
    try:
        send.send(out)
    except BrokenPipeError:
        return  # the parent is gone: nobody to tell
    except Exception:  # a result or exception that does not pickle: its text
        text = text or traceback.format_exc()
        send.send((False, RuntimeError(f"in a training child process:\n{text}")))
    send.close()
