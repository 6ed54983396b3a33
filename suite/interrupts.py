"""Ctrl-C and SIGTERM for ``suite run``, delivered where they cannot crash the process.

Ctrl-C (SIGINT), or the SIGTERM a batch scheduler sends, stops ``suite run`` after
writing what finished: the manifest says ``interrupted`` and one line gives the resume
command. Python's handlers run when the signal arrives, interrupting whatever the thread
that receives it is executing. Measured: a SIGTERM or SIGINT that landed while a run
with eager, ONNX Runtime and OpenVINO latency trained its next trial killed the process
with a segmentation fault in the main thread, inside code of no known library
(JIT-compiled kernels), every time it was tried (8 SIGTERM, 1 SIGINT); the manifest
stayed ``running`` and nothing was printed. With one of those backends alone it was
handled. So neither signal is delivered asynchronously: both are blocked in the main
thread before the run starts any thread (threads inherit the mask), and a watcher
thread takes them with :func:`signal.sigwait` and raises :class:`KeyboardInterrupt` in
the main thread between two bytecodes (:func:`_thread.interrupt_main`). An ignored
SIGINT (a background job) is discarded when sent, so it stays ignored.
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
def stop_signals_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM and SIGINT raise :class:`KeyboardInterrupt` in the main thread, synchronously.

    Outside the main thread, or where the platform has no ``pthread_sigmask``, the block
    runs with SIGTERM raising :class:`KeyboardInterrupt` as signals are usually handled.
    """
    if threading.current_thread() is not threading.main_thread():  # handlers live in the main thread
        yield
        return
    previous_handler = signal.signal(signal.SIGTERM, _raise_interrupt)  # what interrupt_main(SIGTERM) runs
    if not hasattr(signal, "pthread_sigmask"):
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, previous_handler)
        return
    stops = {signal.SIGTERM, signal.SIGINT}
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    done = threading.Event()

    def watch() -> None:
        while True:
            signum = signal.sigwait(stops)
            if done.is_set():
                return
            _thread.interrupt_main(signum)  # runs the signal's Python handler: KeyboardInterrupt for both

    watcher = threading.Thread(target=watch, name="suite-stop-signals", daemon=True)
    watcher.start()  # after the mask: it inherits both blocked, as sigwait needs
    try:
        yield
    finally:
        done.set()
        signal.pthread_kill(watcher.ident, signal.SIGTERM)  # wakes the watcher, which now returns
        watcher.join(timeout=5)
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
        signal.signal(signal.SIGTERM, previous_handler)
