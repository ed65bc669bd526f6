"""``ingest --follow``: reading on as the input grows, and following a rotated file by name."""

from __future__ import annotations

import os
import stat
import time
from typing import TYPE_CHECKING

from multi_llm_otel.cli._line_source import LineSource

if TYPE_CHECKING:
    from multi_llm_otel.cli.ingest import IngestRun

__all__ = ["follow", "read_available"]


def read_available(job: IngestRun, source: LineSource) -> bool:
    """Every line available now; True if there was any."""
    got = False
    for line in source.lines(job.stopper.block, job.stopper.unblock):
        got = True
        job.handle(line)
        if job.should_stop():
            break
        job.reporter.show(job.status(source.position))
    return got


def follow(job: IngestRun, source: LineSource, follow_name: bool) -> None:
    """Read as the input grows. A regular file is followed by name, across rotation and
    truncation; a pipe, a FIFO or a terminal ends when its writers close it."""
    options = job.options
    last_data = time.monotonic()
    while not job.should_stop():
        if read_available(job, source):
            last_data = time.monotonic()
            continue
        # Caught up: send what was read now rather than at the next batch boundary.
        job.drain()
        if not follow_name:
            return
        _reopen_if_replaced(job, source)
        idle = time.monotonic() - last_data
        if options.follow_timeout is not None and idle >= options.follow_timeout:
            return
        job.reporter.show(job.status(source.position, f"; following, idle {idle:.0f} s"))
        job.stopper.wake.wait(options.poll_interval)


def _reopen_if_replaced(job: IngestRun, source: LineSource) -> None:
    """Follow the name, as ``tail -F`` does: log rotation replaces or truncates the file. What
    takes the name and is no regular file (a directory, say) is waited out, not read."""
    path = job.options.path
    current = os.fstat(source.stream.fileno())
    try:
        named = os.stat(path)
    except OSError:
        return
    if not stat.S_ISREG(named.st_mode):
        job.say_once(f"multi-llm-otel: {path} is no longer a regular file; waiting for one to take its place")
        return
    if (named.st_ino, named.st_dev) == (current.st_ino, current.st_dev):
        if current.st_size < source.position:
            source.stream.seek(0)
            source.restart(source.stream)
            job.line_in_file = 0
            job.reporter.say(f"multi-llm-otel: {path} was truncated; reading it again from its start")
        return
    try:
        replacement = open(path, "rb")  # noqa: SIM115 - run() closes whichever stream is current
    except OSError as exc:
        job.say_once(f"multi-llm-otel: cannot open the new {path} ({exc.strerror}); still waiting")
        return
    rest = source.rest()
    if rest is not None:
        job.handle(rest)
    source.stream.close()
    source.restart(replacement)
    job.line_in_file = 0
    job.said.clear()
    job.reporter.say(f"multi-llm-otel: {path} was replaced; following the new file from its start")
