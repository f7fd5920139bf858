"""Type stubs of the ksym package (checked with mypy --strict)."""

from os import PathLike
from types import TracebackType
from typing import Any, Dict, Iterable, Iterator, List, Literal, Optional, Sequence, Type, Union

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

_Path = Union[str, "PathLike[str]"]
# An address: an int from 0 to 2**64-1, or hex text as `ksym addr` takes it.
_Address = Union[int, str]
_Kind = Literal["exact", "return", "stack"]

class Error(Exception):
    """Every error ksym raises; str() is the sentence the ksym command prints."""

class Redacted(Error):
    """The kernel hides its addresses from this reader (kptr_restrict)."""

class NotFound(Error):
    """A file, or a symbol a reference names, that is not there."""

class PermissionDenied(Error):
    """The system refused access (not root, a private file)."""

class BadInput(Error):
    """Malformed or damaged input, or an argument that is not an address."""

class Mismatch(Error):
    """A reference that disagrees with the table (size or offset)."""

class Ambiguous(Error):
    """A reference that several symbols match."""

class IoError(Error):
    """Reading failed otherwise."""

class Symbol:
    """A kernel symbol as `ksym addr --json` describes it; str() is %pS."""

    @property
    def name(self) -> str: ...
    @property
    def module(self) -> Optional[str]: ...
    @property
    def start(self) -> int: ...
    @property
    def size(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def object(self) -> Optional[str]: ...
    @property
    def path(self) -> Optional[str]: ...
    @property
    def section(self) -> Optional[str]: ...
    @property
    def addr(self) -> int: ...
    def __hash__(self) -> int: ...

class Frame:
    """One address of a batch: its symbol, or name None and a reason."""

    @property
    def addr(self) -> int: ...
    @property
    def name(self) -> Optional[str]: ...
    @property
    def module(self) -> Optional[str]: ...
    @property
    def start(self) -> Optional[int]: ...
    @property
    def offset(self) -> Optional[int]: ...
    @property
    def size(self) -> Optional[int]: ...
    @property
    def type(self) -> Optional[str]: ...
    @property
    def reason(self) -> Optional[Literal["no_symbol", "redacted", "permission_denied", "unavailable"]]: ...

class Frames(Sequence[Frame]):
    """The frames of one batch, one per address, in input order."""

    def __len__(self) -> int: ...
    def __getitem__(self, index: int) -> Frame: ...  # type: ignore[override]
    def __iter__(self) -> Iterator[Frame]: ...
    @property
    def resolved(self) -> int: ...
    @property
    def addrs(self) -> tuple[int, ...]: ...

class SourceLine:
    """One source frame of an address: function, file, line, column, inlined."""

    @property
    def function(self) -> Optional[str]: ...
    @property
    def file(self) -> Optional[str]: ...
    @property
    def line(self) -> Optional[int]: ...
    @property
    def column(self) -> Optional[int]: ...
    @property
    def inlined(self) -> bool: ...
    @property
    def source(self) -> Optional[str]: ...

class Table:
    """The symbols of one source; shared between threads safely."""

    def lookup(self, addr: _Address) -> Optional[Symbol]: ...
    def symbolize(self, addrs: Iterable[int], kind: _Kind = "exact") -> Frames: ...
    def find(self, name: str, module: Optional[str] = None) -> List[Symbol]: ...
    def resolve(self, reference: str) -> int: ...
    def lines(self, addr: _Address) -> List[SourceLine]: ...
    def stats(self) -> Dict[str, int]: ...
    def decode(self, text: str) -> Iterator[Dict[str, Any]]: ...
    @property
    def release(self) -> Optional[str]: ...
    def close(self) -> None: ...
    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[Symbol]: ...
    def __enter__(self) -> "Table": ...
    def __exit__(
        self,
        kind: Optional[Type[BaseException]],
        value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> bool: ...

def open_live(watch: bool = True, cache: bool = True, vmlinux: Optional[_Path] = None) -> Table: ...
def open_file(
    path: _Path,
    modules: Optional[_Path] = None,
    ko: Sequence[_Path] = (),
    vmlinux: Optional[_Path] = None,
    cache: bool = True,
) -> Table: ...
def open_snapshot(path: _Path) -> Table: ...
def decode(text: str, table: Optional[Table] = None) -> Iterator[Dict[str, Any]]: ...
