"""The application of the failure tests, run as a child process.

    python -m tests.failure._app serve '<configure() keyword arguments as JSON>'

It calls ``configure()`` (plus the environment the test gave it), prints one JSON line, then
reads one JSON command per line from stdin and answers each with one JSON line on stdout.
End of stdin makes it return from ``main`` and exit normally, so ``atexit`` runs.

What it emits is recognisable at the far end: custom events carry ``phase`` and ``seq``
metadata; decorated calls use the model ``m-<phase>`` (span attribute and event metadata).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from typing import Any

import multi_llm_otel
from multi_llm_otel import BusinessEvent, EventScope, bind_scope, llm_call
from multi_llm_otel._export_losses import queued
from multi_llm_otel._setup import Telemetry

PROBE = "failure_probe"


def response(model: str) -> dict[str, Any]:
    """A provider response as the raw-HTTP path sees it: OpenAI's JSON as a dict."""
    return {
        "id": "chatcmpl-failure",
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
    }


@llm_call(provider="openai")
def ask(*, model: str, messages: list[dict[str, str]]) -> dict[str, Any]:
    return response(model)


def _latencies(samples: list[int]) -> dict[str, float]:
    if not samples:
        return {"n": 0}
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "max_ms": ordered[-1] / 1e6,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] / 1e6,
        "p50_ms": ordered[len(ordered) // 2] / 1e6,
        "mean_us": sum(ordered) / len(ordered) / 1e3,
    }


def emit_events(phase: str, n: int, pace_s: float = 0.0, start: int = 0) -> dict[str, Any]:
    samples = []
    began = time.perf_counter()
    for i in range(start, start + n):
        event = BusinessEvent.new(PROBE).with_metadata("phase", phase).with_metadata("seq", i)
        t0 = time.perf_counter_ns()
        multi_llm_otel.emit(event)
        samples.append(time.perf_counter_ns() - t0)
        if pace_s:
            time.sleep(pace_s)
    return {**_latencies(samples), "total_s": time.perf_counter() - began}


def make_calls(phase: str, n: int, pace_s: float = 0.0) -> dict[str, Any]:
    samples = []
    began = time.perf_counter()
    model = f"m-{phase}"
    for _ in range(n):
        t0 = time.perf_counter_ns()
        result = ask(model=model, messages=[{"role": "user", "content": "hi"}])
        samples.append(time.perf_counter_ns() - t0)
        assert result["model"] == model
        if pace_s:
            time.sleep(pace_s)
    return {**_latencies(samples), "total_s": time.perf_counter() - began}


def rss() -> dict[str, int]:
    """Resident set size now and at its peak, in KiB (Linux /proc)."""
    values = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                values[line.split(":")[0]] = int(line.split()[1])
    return {"rss_kib": values.get("VmRSS", 0), "peak_kib": values.get("VmHWM", 0)}


def _timeout_of(exporter: Any) -> Any:
    client = getattr(exporter, "_client", None)
    return getattr(client, "_timeout", getattr(exporter, "_timeout", None))


def _child_work(phase: str, n: int, calls: int) -> None:
    emit_events(phase, n)
    make_calls(phase, calls)


def _flushing_rounds(handle: Telemetry, phase: str, rounds: int, per_round: int) -> None:
    for r in range(rounds):
        emit_events(phase, per_round, start=r * per_round)
        handle.logger_provider.force_flush()


class Commands:
    def __init__(self, handle: Telemetry) -> None:
        self.handle = handle

    def emit(self, phase: str, n: int, pace_s: float = 0.0, start: int = 0) -> Any:
        return emit_events(phase, n, pace_s, start)

    def calls(self, phase: str, n: int, pace_s: float = 0.0) -> Any:
        return make_calls(phase, n, pace_s)

    def mixed(self, phase: str, n: int, pace_s: float = 0.0) -> Any:
        """``n`` rounds of one event and one decorated call: the application's normal traffic."""
        samples_e, samples_c = [], []
        began = time.perf_counter()
        model = f"m-{phase}"
        for i in range(n):
            event = BusinessEvent.new(PROBE).with_metadata("phase", phase).with_metadata("seq", i)
            t0 = time.perf_counter_ns()
            multi_llm_otel.emit(event)
            t1 = time.perf_counter_ns()
            ask(model=model, messages=[{"role": "user", "content": "hi"}])
            t2 = time.perf_counter_ns()
            samples_e.append(t1 - t0)
            samples_c.append(t2 - t1)
            if pace_s:
                time.sleep(pace_s)
        return {"emit": _latencies(samples_e), "call": _latencies(samples_c), "total_s": time.perf_counter() - began}

    def hostile(self) -> Any:
        """Two events with integers outside int64, one at the top and one nested (both are
        valid JSON that the metadata rule keeps), emitted among ordinary ones."""
        for i, value in ((100, 2**70), (101, {"n": [-(2**64)]})):
            event = BusinessEvent.new(PROBE).with_metadata("phase", "p").with_metadata("seq", i)
            multi_llm_otel.emit(event.with_metadata("big", value))
        return {}

    def as_user(self, user: str, phase: str, n: int) -> Any:
        """``mixed`` inside a request bound to ``user`` (``bind_scope``)."""
        with bind_scope(EventScope.user(user)):
            return self.mixed(phase, n)

    def stats(self) -> Any:
        return multi_llm_otel.stats()

    def queued(self) -> Any:
        return {name: queued(p) for name, p in self.handle._processors.items()}

    def flush(self, signal: str | None = None) -> Any:
        """Flush every provider, or only ``signal``'s (traces, logs, metrics)."""
        t0 = time.perf_counter()
        if signal is None:
            ok = self.handle.force_flush()
        else:
            ok = getattr(
                self.handle, {"traces": "tracer_provider", "logs": "logger_provider"}.get(signal, "meter_provider")
            ).force_flush()
        return {"ok": ok, "seconds": time.perf_counter() - t0}

    def shutdown(self) -> Any:
        t0 = time.perf_counter()
        ok = self.handle.shutdown()
        return {"ok": ok, "seconds": time.perf_counter() - t0}

    def rss(self) -> Any:
        return rss()

    def defaults(self) -> Any:
        """What configure() set up, read back from the objects it built."""
        out: dict[str, Any] = {"shutdown_timeout_s": self.handle._shutdown_timeout}
        for name, processor in self.handle._processors.items():
            bp = processor._batch_processor
            exporter = bp._exporter.inner
            out[name] = {
                "processor": type(processor).__name__,
                "max_queue_size": bp._max_queue_size,
                "max_export_batch_size": bp._max_export_batch_size,
                "schedule_delay_ms": bp._schedule_delay_millis,
                "export_timeout_ms (stored, not applied by the SDK)": bp._export_timeout_millis,
                "exporter": type(exporter).__module__ + "." + type(exporter).__name__,
                "exporter_timeout_s": _timeout_of(exporter),
            }
        for reader in self.handle.meter_provider._metric_readers:
            inner = reader._exporter.inner
            out["metrics"] = {
                "reader": type(reader).__name__,
                "export_interval_ms": reader._export_interval_millis,
                "export_timeout_ms": reader._export_timeout_millis,
                "exporter": type(inner).__module__ + "." + type(inner).__name__,
                "exporter_timeout_s": _timeout_of(inner),
            }
        return out

    def fork(self, phase: str, n: int, calls: int, exit_with: str = "sys.exit") -> Any:
        """Fork a child that emits ``n`` events and ``calls`` calls as ``<phase>-child`` and
        exits (``sys.exit``: normal exit with atexit, as gunicorn workers do); the parent emits
        the same as ``<phase>-parent`` meanwhile and waits for the child."""
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _child_work(f"{phase}-child", n, calls)
            except BaseException:
                code = 1
            if exit_with == "os._exit":
                self.handle.shutdown()
                os._exit(code)
            sys.exit(code)
        _child_work(f"{phase}-parent", n, calls)
        _, status = os.waitpid(pid, 0)
        return {"child_pid": pid, "child_exit": os.waitstatus_to_exitcode(status)}

    def multiprocessing(self, phase: str, n: int, calls: int, processes: int) -> Any:
        """``multiprocessing`` with the fork start method: ``Process`` children and a ``Pool``."""
        ctx = multiprocessing.get_context("fork")
        procs = [ctx.Process(target=_child_work, args=(f"{phase}-proc{i}", n, calls)) for i in range(processes)]
        for p in procs:
            p.start()
        _child_work(f"{phase}-parent", n, calls)
        for p in procs:
            p.join(60)
        pool = ctx.Pool(2)
        try:
            pool.starmap(_child_work, [(f"{phase}-pool{i}", n, calls) for i in range(processes)])
        finally:
            pool.close()
            pool.join()
        return {"exit_codes": [p.exitcode for p in procs]}

    def pool_terminate(self, phase: str, n: int, processes: int, wait_s: float) -> Any:
        """A fork ``Pool`` whose workers emit ``n`` events each, then ``close()`` (the workers
        start leaving, flushing on their way out) and, ``wait_s`` later, ``terminate()``, which
        sends SIGTERM to every worker still alive."""
        pool = multiprocessing.get_context("fork").Pool(processes)
        pool.starmap(emit_events, [(f"{phase}-pool{i}", n) for i in range(processes)], chunksize=1)
        pool.close()
        time.sleep(wait_s)
        pool.terminate()
        pool.join()
        return {}

    def join_exports(self, timeout: float) -> Any:
        """Wait until the batch processors' export threads have ended (after a shutdown)."""
        threads = [p._batch_processor._worker_thread for p in self.handle._processors.values()]
        for thread in threads:
            thread.join(timeout)
        return {"alive": sum(t.is_alive() for t in threads)}

    def poll_stats(self) -> Any:
        """Answer at once, then read ``stats()`` in a loop until the process is ended: the main
        thread spends much of its time holding the diagnostics lock, as a health endpoint or a
        metrics scraper polling it does."""
        print(json.dumps({"polling": True}), flush=True)
        while True:
            multi_llm_otel.stats()

    def fork_storm(self, phase: str, children: int, rounds: int, per_round: int, start: str = "os.fork") -> Any:
        """Fork ``children`` children (``os.fork`` leaving by ``sys.exit``, or ``multiprocessing``
        processes with the fork start method) while the parent holds a kept-alive OTLP
        connection; the parent and every child then export ``rounds`` times (``per_round``
        events, then a flush of the log records) at the same time."""
        emit_events(f"{phase}-warm", 1)
        self.handle.logger_provider.force_flush()
        if start == "multiprocessing":
            ctx = multiprocessing.get_context("fork")
            procs = [
                ctx.Process(target=_flushing_rounds, args=(self.handle, f"{phase}-child{c}", rounds, per_round))
                for c in range(children)
            ]
            for p in procs:
                p.start()
            _flushing_rounds(self.handle, f"{phase}-parent", rounds, per_round)
            for p in procs:
                p.join(60)
            return {"child_exits": [p.exitcode for p in procs]}
        pids = []
        for c in range(children):
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    _flushing_rounds(self.handle, f"{phase}-child{c}", rounds, per_round)
                except BaseException:
                    code = 1
                sys.exit(code)
            pids.append(pid)
        _flushing_rounds(self.handle, f"{phase}-parent", rounds, per_round)
        codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
        return {"child_exits": codes}

    def fork_while_writing(self, phase: str, children: int, n: int) -> Any:
        """Fork ``children`` children one after another while a thread of the parent keeps the
        exporters writing; each child emits ``n`` events and leaves with ``sys.exit``. Returns
        each child's exit code and the seconds it took from fork to exit."""
        stop = threading.Event()

        def keep_writing() -> None:
            i = 0
            while not stop.is_set():
                emit_events(f"{phase}-background", 50, start=i)
                self.handle.logger_provider.force_flush()
                i += 50

        writer = threading.Thread(target=keep_writing, daemon=True)
        writer.start()
        codes, seconds = [], []
        try:
            for c in range(children):
                t0 = time.perf_counter()
                pid = os.fork()
                if pid == 0:
                    code = 0
                    try:
                        emit_events(f"{phase}-child{c}", n)
                    except BaseException:
                        code = 1
                    sys.exit(code)
                codes.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
                seconds.append(time.perf_counter() - t0)
        finally:
            stop.set()
            writer.join(30)
        return {"child_exits": codes, "child_seconds": seconds}


def _exit_on_sigterm(signum: int, frame: object) -> None:
    sys.exit(143)


def serve(options: dict[str, Any]) -> None:
    if os.environ.get("FAILURE_APP_SIGTERM") == "sys.exit":
        # A program with a SIGTERM handler of its own, which exits normally.
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    user = options.pop("user_scope", None)
    if user is not None:
        # A process that serves one user: its Resource carries the (hashed) user id.
        options["scope"] = EventScope.user(user)
    handle = multi_llm_otel.configure(**options)
    commands = Commands(handle)
    print(json.dumps({"ready": True, "pid": os.getpid(), "exporters": handle.exporters}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        try:
            result = getattr(commands, command["op"])(**command.get("args", {}))
        except Exception as exc:  # the test sees the failure as an answer
            result = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(result), flush=True)
    # End of input: return from main; the interpreter exits and atexit runs.
    print(json.dumps({"main_returned_at": time.time()}), flush=True)


def main() -> None:
    mode = sys.argv[1]
    if mode == "serve":
        serve(json.loads(sys.argv[2]) if len(sys.argv) > 2 else {})
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
