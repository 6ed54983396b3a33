"""SIGTERM as Ctrl-C for ``suite run``, delivered where it cannot crash the process.

A batch scheduler stops a job with SIGTERM; ``suite run`` then stops like Ctrl-C: the
manifest says ``interrupted`` and one line gives the resume command. A handler installed
with :func:`signal.signal` runs when the signal arrives, interrupting whatever the thread
that receives it is executing. Measured: a SIGTERM that landed while a run with eager,
ONNX Runtime and OpenVINO latency trained its next trial killed the process with a
segmentation fault in the main thread, inside code of no known library (JIT-compiled
kernels), each of the 7 times it was tried; the manifest stayed ``running`` and nothing was printed. With
one of those backends alone it was handled. So SIGTERM is never delivered
asynchronously: it is blocked in the main thread before the run starts any thread
(threads inherit the mask), and a watcher thread takes it with :func:`signal.sigwait`
and raises :class:`KeyboardInterrupt` in the main thread between two bytecodes
(:func:`_thread.interrupt_main`).
"""

from __future__ import annotations

import _thread
import contextlib
import signal
import threading
from collections.abc import Iterator


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`KeyboardInterrupt` in the main thread, synchronously.

    Outside the main thread, or where the platform has no ``pthread_sigmask``, the block
    runs with SIGTERM left as it is.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous_handler = signal.signal(signal.SIGTERM, _raise_interrupt)  # what interrupt_main(SIGTERM) runs
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    done = threading.Event()

    def watch() -> None:
        while True:
            signal.sigwait({signal.SIGTERM})
            if done.is_set():
                return
            _thread.interrupt_main(signal.SIGTERM)

    watcher = threading.Thread(target=watch, name="suite-sigterm", daemon=True)
    watcher.start()  # after the mask: it inherits SIGTERM blocked, as sigwait needs
    try:
        yield
    finally:
        done.set()
        signal.pthread_kill(watcher.ident, signal.SIGTERM)  # wakes the watcher, which now returns
        watcher.join(timeout=5)
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
        signal.signal(signal.SIGTERM, previous_handler)
