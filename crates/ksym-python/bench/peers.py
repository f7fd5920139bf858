"""The peers ksym is compared with, each built from the same kallsyms text:

- drgn (PyPI `drgn`): a `drgn.SymbolIndex` of `drgn.Symbol`s, each sized as
  the kernel sizes it (up to the next higher address of the same module, or
  of the core), looked up with drgn's own C code through `Program.symbol`;
- the `bisect` over a parsed `/proc/kallsyms` that scripts write by hand.

Used by bench/compare.py and tests/test_peers.py.
"""

import bisect
import lzma
import random
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

# (address, type letter, name, module or None), in file order.
Line = Tuple[int, str, str, Optional[str]]


def read_kallsyms(path: Path) -> List[Line]:
    """Parses kallsyms text (plain or .xz) as scripts do: `addr type name [mod]`."""
    opener: Any = lzma.open if path.suffix == ".xz" else open
    out: List[Line] = []
    with opener(path, "rt") as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3:
                continue
            module = parts[3][1:-1] if len(parts) > 3 else None
            out.append((int(parts[0], 16), parts[1], parts[2], module))
    return out


def answering(lines: Sequence[Line]) -> List[Line]:
    """The lines that can name an address: not absolute (`A`), sorted by
    address, file order kept among aliases (the kernel names the first)."""
    return sorted((x for x in lines if x[1] not in "aA"), key=lambda x: x[0])


def kernel_sizes(syms: Sequence[Line]) -> List[int]:
    """Each symbol's size as the kernel's kallsyms_lookup_size_offset gives
    it: up to the next higher address in the same module (or the core);
    the last of each has size 0 (the kernel would bound it by its section)."""
    sizes = [0] * len(syms)
    higher: Dict[Optional[str], int] = {}  # the next higher start, per module
    seen: Dict[Optional[str], int] = {}  # the start just walked past, per module
    for i in range(len(syms) - 1, -1, -1):
        addr, _, _, module = syms[i]
        if module in seen and seen[module] > addr:
            higher[module] = seen[module]
        seen[module] = addr
        if module in higher:
            sizes[i] = higher[module] - addr
    return sizes


class BisectPeer:
    """`bisect_right(starts, addr) - 1`: the last symbol at or below addr."""

    def __init__(self, lines: Sequence[Line]) -> None:
        syms = answering(lines)
        self.starts = [s[0] for s in syms]
        self.names = [s[2] for s in syms]

    def lookup(self, addr: int) -> Optional[Tuple[str, int]]:
        i = bisect.bisect_right(self.starts, addr) - 1
        if i < 0:
            return None
        return self.names[i], self.starts[i]


class DrgnPeer:
    """drgn's SymbolIndex over the same symbols, sized as the kernel sizes them."""

    def __init__(self, lines: Sequence[Line]) -> None:
        import drgn

        syms = answering(lines)
        sizes = kernel_sizes(syms)
        func = drgn.SymbolKind.FUNC
        obj = drgn.SymbolKind.OBJECT
        symbols = [
            drgn.Symbol(
                name,
                addr,
                size,
                drgn.SymbolBinding.GLOBAL if kind.isupper() else drgn.SymbolBinding.LOCAL,
                func if kind in "tTwW" else obj,
            )
            for (addr, kind, name, _), size in zip(syms, sizes)
        ]
        self.program = drgn.Program()
        self.program.register_symbol_finder("kallsyms", drgn.SymbolIndex(symbols), enable_index=0)

    def lookup(self, addr: int) -> Optional[Tuple[str, int]]:
        try:
            s = self.program.symbol(addr)
        except LookupError:
            return None
        return s.name, s.address


def text_addresses(lines: Sequence[Line], n: int, seed: int = 1) -> List[int]:
    """n random addresses inside text symbols: a `t`/`T` symbol's start
    plus less than the distance to the next higher address of its module."""
    syms = answering(lines)
    sizes = kernel_sizes(syms)
    text = [(s[0], size) for s, size in zip(syms, sizes) if s[1] in "tT" and size > 0]
    rng = random.Random(seed)
    return [start + rng.randrange(size) for start, size in rng.choices(text, k=n)]
