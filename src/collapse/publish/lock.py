"""One build at a time per build folder: ``<build>/build.lock``, held (``flock``) while a
``collapse`` command writes into the folder, and holding the holder's pid and command.

The operating system releases the lock when its holder dies, so a lock file left by a killed
build is simply taken over (and said so); a live holder makes a second command wait
(``--wait``) or stop with a message naming it.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path


class BuildBusy(RuntimeError):
    """Another live ``collapse`` command holds the build folder's lock."""


def _holder(text: str) -> dict:
    try:
        return json.loads(text) if text.strip() else {}
    except ValueError:
        return {}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class BuildLock:
    """Context manager: hold ``path`` for this process. ``wait``: seconds to wait for a live
    holder (0: fail at once with :class:`BuildBusy`). ``note`` says whether a stale lock was
    taken over."""

    def __init__(self, path: Path, wait: float = 0.0, command: str | None = None):
        self.path, self.wait = Path(path), wait
        self.command = command or " ".join(sys.argv)
        self.note = ""
        self._descriptor: int | None = None

    def __enter__(self) -> "BuildLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _holder(os.pread(descriptor, 4096, 0).decode(errors="replace"))
                    os.close(descriptor)
                    raise BuildBusy(
                        f"another collapse command is using {self.path.parent}: pid "
                        f"{holder.get('pid', '?')} on {holder.get('host', '?')}, started "
                        f"{holder.get('started', '?')} ({holder.get('command', '?')}). Wait for "
                        f"it to finish (or pass --wait SECONDS), or stop it; use another "
                        f"--output-root to build beside it") from None
                time.sleep(0.5)
        previous = _holder(os.pread(descriptor, 4096, 0).decode(errors="replace"))
        if previous.get("pid") and previous.get("pid") != os.getpid():
            state = "no longer running" if not _alive(int(previous["pid"])) else \
                "its lock was free"
            self.note = (f"took over the lock of pid {previous['pid']} ({state}; "
                         f"{previous.get('command', '?')})")
        payload = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                              "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                              "command": self.command}).encode()
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, payload, 0)
        os.fsync(descriptor)
        self._descriptor = descriptor
        return self

    def __exit__(self, *exc) -> bool:
        if self._descriptor is not None:
            os.ftruncate(self._descriptor, 0)   # the file stays: unlinking would race
            fcntl.flock(self._descriptor, fcntl.LOCK_UN)
            os.close(self._descriptor)
            self._descriptor = None
        return False
