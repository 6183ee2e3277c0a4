"""Colour and progress for people at a terminal, and nothing for scripts.

Colour goes through click, which strips it when the stream is not a terminal; the
``policypacks`` group turns it off entirely when ``NO_COLOR`` is set
(https://no-color.org). Progress is written to stderr, and only to a terminal unless a
command is asked for it (``--progress``), so a pipe or a CI log never fills with
carriage returns.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from typing import IO, Any

import click

#: What a part of the output means -> how it looks.
STYLES: dict[str, dict[str, Any]] = {
    "ok": {"fg": "green"},
    "fail": {"fg": "red", "bold": True},
    "error": {"fg": "red"},
    "warn": {"fg": "yellow"},
    "place": {"bold": True},
    "dim": {"dim": True},
    "more": {"fg": "red"},
    "less": {"fg": "green"},
}
# FILE:LINE: (the place an error was made), as report() prints it.
PLACE = re.compile(r"^(\S[^:\n]*:\d+:|\S[^:\n]*:)(\s)")


def color_disabled() -> bool:
    return bool(os.environ.get("NO_COLOR"))


def style(text: str, role: str) -> str:
    """``text`` marked up for ``role``; click strips the codes off a non-terminal."""
    return click.style(text, **STYLES[role])


def error_line(line: str) -> str:
    """An error line with its FILE:LINE: place in bold and the message in red."""
    match = PLACE.match(line)
    if not match:
        return style(line, "error")
    return style(match[1], "place") + match[2] + style(line[match.end():], "error")


WARNING = re.compile(r"^(?P<place>.*?: )?(?P<word>(?:warning|note):)(?P<rest>.*)$", re.DOTALL)


def warning_line(line: str, severity: str = "warning") -> str:
    """A warning line (``FILE:LINE: warning: message``) with its place in bold and the
    word "warning:" in yellow (a note's "note:" dim)."""
    role = "warn" if severity == "warning" else "dim"
    match = WARNING.match(line)
    if not match:
        return style(line, role)
    place = style(match["place"].rstrip(), "place") + " " if match["place"] else ""
    return place + style(match["word"], role) + match["rest"]


def is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """``label: done/total (percent)`` on one stderr line, redrawn at most ``per_second``
    times a second; silent unless stderr is a terminal or ``force`` is given (then each
    update is a line of its own when stderr is not a terminal)."""

    def __init__(self, label: str, total: int, force: bool = False,
                 stream: IO[str] | None = None, per_second: float = 4.0) -> None:
        self.label, self.total = label, total
        self.stream = stream or sys.stderr
        self.terminal = is_terminal(self.stream)
        self.enabled = self.terminal or force
        self.interval = 1.0 / per_second
        self.started = time.monotonic()
        self._last = 0.0
        self._drawn = False

    def update(self, done: int, total: int | None = None) -> None:
        if total is not None:
            self.total = total
        now = time.monotonic()
        last = bool(self.total) and done >= self.total  # the end is always drawn
        if not self.enabled or (now - self._last < self.interval and not last):
            return
        self._last = now
        # No total yet (a replay still reading its log): only what is done so far.
        of = f"/{self.total:,} ({100 * done / self.total:.0f}%)" if self.total else ""
        text = f"{self.label}: {done:,}{of}, {now - self.started:.1f}s"
        if self.terminal:
            self.stream.write("\r\033[K" + text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self.enabled and self.terminal and self._drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()


class Waiting:
    """``label... 3.2s`` on stderr while a blocking call runs (a terminal only), redrawn
    by a background thread: for waits that report nothing until they end."""

    def __init__(self, label: str, stream: IO[str] | None = None,
                 interval: float = 0.25) -> None:
        self.label, self.interval = label, interval
        self.stream = stream or sys.stderr
        self.enabled = is_terminal(self.stream)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.wait(self.interval):
            self.stream.write(f"\r\033[K{self.label}... {time.monotonic() - started:.1f}s")
            self.stream.flush()

    def __enter__(self) -> Waiting:
        if self.enabled:
            self._thread = threading.Thread(target=self._run, daemon=True, name="waiting")
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self.stream.write("\r\033[K")
            self.stream.flush()
