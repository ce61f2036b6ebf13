"""Ctrl-C on the command line: exit 130, one line, no partial output, promptly even inside a solver.

Python turns Ctrl-C into ``KeyboardInterrupt`` only between bytecodes of the main thread, so while
the main thread is in C code (a CP-SAT solve, up to its time limit) the interrupt waits. The guard's
watcher thread learns of the signal at once (``signal.set_wakeup_fd``). When the main thread has
not ended within :data:`GRACE_S` (its ``KeyboardInterrupt`` cleans up on its way out), the watcher
discards the open run folders of the process (temporary files and lock,
:func:`planning.app.outdir.abort_open`), prints the line and ends the process with 130.

CP-SAT must leave SIGINT alone (``catch_sigint_signal = False`` on every solver's parameters):
otherwise it installs its own handler for the solve, ends its search quietly on Ctrl-C and the run
goes on.

This module imports nothing heavy: the console script uses it before the rest has loaded.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

#: Seconds the main thread has to end on its own after a Ctrl-C before the watcher ends the process.
GRACE_S = 1.0
#: Exit code after Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130
#: What the line says when the run stopped before its outputs were moved into the output folder.
NOTHING_WRITTEN = "stopped; nothing was written (the output folder is as it was)"

__all__ = ["EXIT_INTERRUPTED", "GRACE_S", "NOTHING_WRITTEN", "InterruptGuard"]


class InterruptGuard:
    """Ends the process cleanly on Ctrl-C when the main thread cannot (used as a context manager).

    Parameters
    ----------
    report
        Prints the one line, given what happened (``NOTHING_WRITTEN`` or a note of the interrupt).
    grace_s
        Seconds the main thread has to end on its own.

    Outside the main thread the guard does nothing (signals reach only the main thread).
    """

    def __init__(self, report: Callable[[str], None], *, grace_s: float = GRACE_S) -> None:
        self._report = report
        self._grace_s = grace_s
        self._done = threading.Event()
        self._exiting = threading.Lock()  # one line, printed once, by whichever thread gets here first
        self._pipe: tuple[int, int] | None = None
        self._previous_fd = -1
        self._thread: threading.Thread | None = None

    def __enter__(self) -> InterruptGuard:
        if threading.current_thread() is not threading.main_thread():
            return self
        read, write = os.pipe()
        os.set_blocking(write, False)
        self._previous_fd = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        self._pipe = (read, write)
        self._thread = threading.Thread(target=self._watch, name="schoolplan-interrupt", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        if self._pipe is None:
            return
        signal.set_wakeup_fd(self._previous_fd)
        read, write = self._pipe
        os.close(write)  # the watcher reads the end of the pipe and returns
        if self._thread is not None:
            self._thread.join()
        os.close(read)
        self._pipe = None

    def stopped(self, note: str = NOTHING_WRITTEN) -> int:
        """The main thread caught the interrupt: print the line (once) and return the exit code."""
        with self._exiting:
            if not self._done.is_set():
                self._done.set()
                self._report(note)
        return EXIT_INTERRUPTED

    def _watch(self) -> None:
        assert self._pipe is not None
        while True:
            data = os.read(self._pipe[0], 64)
            if not data:
                return  # the guard was left
            if signal.SIGINT in data:
                break
        if self._done.wait(self._grace_s):
            return
        with self._exiting:
            if self._done.is_set():
                return
            outdir: Any = sys.modules.get("planning.app.outdir")  # loaded if any run folder was opened
            if outdir is not None:
                outdir.abort_open()
            self._report(NOTHING_WRITTEN)
            for stream in (sys.stdout, sys.stderr):
                stream.flush()
            os._exit(EXIT_INTERRUPTED)
