"""Complete lines from a byte stream, bounded in bytes and in JSON values, so one runaway line
can neither exhaust memory while it is read nor while it is parsed."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import IO, Final

__all__ = ["Line", "LineSource", "LineTooLong", "too_many_values"]

_CHUNK: Final = 1024 * 1024
# A JSON string (escapes included); what is left once strings are gone holds the structure.
_STRING: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')


def too_many_values(line: bytes, limit: int) -> bool:
    """Whether ``line`` holds more than ``limit`` JSON values, told without parsing it (parsed,
    each small value is a Python object of 50-200 bytes, up to 60 times its size in the line)
    and without copying it. Commas and brackets inside strings do not count."""

    def structure(start: int, end: int) -> int:
        return line.count(b",", start, end) + line.count(b"[", start, end) + line.count(b"{", start, end)

    if structure(0, len(line)) < limit:
        return False
    count = last = 0
    for match in _STRING.finditer(line):
        count += structure(last, match.start())
        if count >= limit:
            return True
        last = match.end()
    return count + structure(last, len(line)) >= limit


class LineTooLong:
    """A line past the limit; only its length is kept."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        self.size = size


Line = bytes | LineTooLong


class LineSource:
    """Complete lines from a binary stream; a line still being written waits for its newline."""

    def __init__(self, stream: IO[bytes], max_bytes: int) -> None:
        self.stream = stream
        self.max_bytes = max_bytes
        self.position = 0
        self._pending = bytearray()
        self._overflow = 0

    def lines(self, before_read: Callable[[], None], after_read: Callable[[], None]) -> Iterator[Line]:
        """Every complete line available now; returns at end of data, keeping a partial line."""
        while True:
            before_read()
            try:
                chunk = self.stream.readline(_CHUNK)
            finally:
                after_read()
            if not chunk:
                return
            self.position += len(chunk)
            complete = chunk.endswith(b"\n")
            if self._overflow:
                self._overflow += len(chunk)
                if complete:
                    yield LineTooLong(self._overflow - (len(chunk) - len(chunk.rstrip(b"\r\n"))))
                    self._overflow = 0
                continue
            if complete and not self._pending:
                yield self._checked(chunk)
                continue
            self._pending += chunk
            if complete:
                line = bytes(self._pending)
                self._pending.clear()
                yield self._checked(line)
            elif len(self._pending) > self.max_bytes:
                # Keep counting, stop keeping: a runaway line must not exhaust memory.
                self._overflow = len(self._pending)
                self._pending.clear()

    def _checked(self, line: bytes) -> Line:
        size = len(line.rstrip(b"\r\n"))
        return LineTooLong(size) if size > self.max_bytes else line

    def rest(self) -> Line | None:
        """The unterminated last line, once no more data will come."""
        if self._overflow:
            size, self._overflow = self._overflow, 0
            return LineTooLong(size)
        if not self._pending:
            return None
        line = bytes(self._pending)
        self._pending.clear()
        return self._checked(line)

    def restart(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.position = 0
        self._pending.clear()
        self._overflow = 0
