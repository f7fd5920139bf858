"""Linux kernel addresses to names and back: ksym from Python.

Open a source, then ask it::

    import ksym
    table = ksym.open_live()                     # or open_file(path), open_snapshot(path)
    print(table.lookup(0xffffffff81000000))      # name+0x0/0x10, as the kernel's %pS
    for frame in table.symbolize(addrs):         # a list of ints or a numpy uint64 array
        print(hex(frame.addr), frame.name, frame.module, frame.offset)

Every answer equals what ``ksym addr --json`` gives for the same source and
address; errors are ``ksym.Error`` (``Redacted``, ``NotFound``,
``PermissionDenied``, ``BadInput``, ``Mismatch``, ``Ambiguous``,
``IoError``) with the ``ksym`` command's sentence.
"""

# Typed in __init__.pyi; typing is not imported here (a few ms at import).
from collections.abc import Sequence

from ksym._ksym import (
    Ambiguous,
    BadInput,
    Error,
    Frame,
    Frames,
    IoError,
    Mismatch,
    NotFound,
    PermissionDenied,
    Redacted,
    SourceLine,
    Symbol,
    Table,
    open_file,
    open_live,
    open_snapshot,
)

__all__ = [
    "Ambiguous",
    "BadInput",
    "Error",
    "Frame",
    "Frames",
    "IoError",
    "Mismatch",
    "NotFound",
    "PermissionDenied",
    "Redacted",
    "SourceLine",
    "Symbol",
    "Table",
    "decode",
    "open_file",
    "open_live",
    "open_snapshot",
]

# A batch's frames index, slice-free, like a tuple: a Sequence to isinstance().
Sequence.register(Frames)


def decode(text, table=None):  # type: ignore[no-untyped-def]
    """Yields the frames and warnings of kernel log text (an oops, a call
    trace), each the object ``ksym decode --json`` prints, as a dict:
    ``{"type": "frame", "line": N, "ref": ..., "addr": ..., "symbol": {...},
    "status": "ok" | "mismatch" | "unresolved" | "raw", ...}``. Frames are
    checked against ``table`` (default: the live kernel, opened once)."""
    if table is None:
        with open_live(watch=False) as live:
            yield from live.decode(text)
    else:
        yield from table.decode(text)
