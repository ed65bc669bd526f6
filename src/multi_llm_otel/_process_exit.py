"""The process around the telemetry: ``SIGTERM`` and children made by ``fork()``."""

from __future__ import annotations

import _thread
import os
import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING

from multi_llm_otel import _diagnostics

if TYPE_CHECKING:
    from multi_llm_otel._setup import Telemetry

__all__ = ["flush_forked_children", "install_sigterm"]


def install_sigterm(handle: Telemetry) -> None:
    """On ``SIGTERM``: flush (bounded), then die by ``SIGTERM`` as a supervisor expects.

    The handler runs on the main thread between two bytecodes of whatever it was doing,
    possibly inside a lock the flush needs (the diagnostics lock while the program polls
    ``stats()``, the sink's, the ``logging`` module's): flushing there would wait for itself
    forever. So the handler takes no lock: it starts the flush on a thread of its own (the
    low-level ``_thread`` call takes none) and returns; the program runs on meanwhile, and
    the flushing thread signals again when done, when the handler restores the default
    action and re-raises."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return
    # By process id: a child forked while its parent flushed must still flush on its own.
    state = {"flushing": 0, "flushed": 0}

    def flush_then_terminate() -> None:
        try:
            handle.shutdown()
        except Exception as exc:  # noqa: BLE001 - the process must still end
            _diagnostics.report("shutdown_failed", str(exc), exc)
        finally:
            state["flushed"] = os.getpid()
            os.kill(os.getpid(), signal.SIGTERM)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        pid = os.getpid()
        if state["flushed"] == pid:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(pid, signal.SIGTERM)
        elif state["flushing"] != pid:
            state["flushing"] = pid
            try:
                _thread.start_new_thread(flush_then_terminate, ())
            except RuntimeError:
                # No thread to be had (a thread limit): end as if no handler were installed,
                # rather than raise into the program or flush where it might wait for itself.
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)


def flush_forked_children(handle: Telemetry) -> None:
    """Children made by ``fork()`` inherit the handle and its ``atexit`` registration: one that
    exits normally (``sys.exit``, the end of the program, as gunicorn workers do) flushes what it
    queued. A ``multiprocessing`` child ends with ``os._exit()``, which skips ``atexit``, so it
    gets a multiprocessing finalizer instead (run by its ``Process`` machinery at exit)."""
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=handle._after_fork_in_child)
    import multiprocessing.util

    def in_child(h: Telemetry) -> None:
        multiprocessing.util.Finalize(None, h.shutdown, exitpriority=10)

    multiprocessing.util.register_after_fork(handle, in_child)
