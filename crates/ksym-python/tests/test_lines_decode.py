"""Source lines against `ksym addr --lines --json` over the 6.1 cloud
kernel's DWARF (the debug vmlinux and xfs's .ko), and decode against
`ksym decode --json` on the shared oops."""

import json
import random
import warnings
from typing import Any, Dict, List

import pytest

import ksym
from conftest import (
    CLOUD,
    D612,
    DATA,
    DEBUG_VMLINUX,
    cli_addr_json,
    ksym_cli,
    need_data,
    symbol_addresses,
)


def lines_as_json(frames: List[ksym.SourceLine]) -> List[Dict[str, Any]]:
    out = []
    for f in frames:
        d: Dict[str, Any] = {
            "function": f.function,
            "file": f.file,
            "line": f.line,
            "column": f.column,
            "inlined": f.inlined,
        }
        if f.source is not None:
            d["source"] = f.source
        out.append(d)
    return out


def test_lines_equal_ksym_addr_lines_json() -> None:
    if not DEBUG_VMLINUX.is_file():
        pytest.skip(f"no debug vmlinux at {DEBUG_VMLINUX} (../shared/scripts/fetch-debug-vmlinux.sh)")
    need_data(CLOUD)
    ko = CLOUD / "ko-debug/xfs.ko.xz"
    cli = ["--kallsyms", CLOUD / "kallsyms.xz", "--modules", CLOUD / "module-layout.tsv", "--ko", ko, "--vmlinux", DEBUG_VMLINUX]
    starts = symbol_addresses(cli[:4])
    rng = random.Random(7)
    table = ksym.open_file(CLOUD / "kallsyms.xz", modules=CLOUD / "module-layout.tsv", ko=[ko], vmlinux=DEBUG_VMLINUX)
    syms = [(a, table.lookup(a)) for a in starts if a >= 0xFFFFFFFFC0000000]
    xfs = [a for a, s in syms if s is not None and s.module == "xfs" and s.type in "tT"]
    core = [a for a in starts if 0xFFFFFFFFAD000000 <= a < 0xFFFFFFFFAE000000]
    addrs = [a + rng.randrange(0, 0x40) for a in rng.sample(core, 150) + rng.sample(xfs, 50)]
    addrs.append(0x1234)  # no symbol: no lines
    want = cli_addr_json(cli, addrs, extra=["--lines"])
    with warnings.catch_warnings(record=True):
        got = [lines_as_json(table.lines(a)) for a in addrs]
    assert got == [w["frames"] for w in want]
    # Both parts answered: the core's DWARF and xfs's.
    assert sum(1 for g in got[:150] if g) > 100 and sum(1 for g in got[150:200] if g) > 30
    assert any(f["inlined"] for g in got for f in g)
    assert str(table.lines(addrs[0])[-1]).startswith(want[0]["frames"][-1]["function"])


def test_no_debug_info_gives_no_lines_and_says_why() -> None:
    need_data(D612)
    table = ksym.open_file(D612 / "kallsyms.xz", modules=D612 / "proc-modules")
    addr = symbol_addresses(["--kallsyms", D612 / "kallsyms.xz"])[-1000]
    (want,) = cli_addr_json(["--kallsyms", D612 / "kallsyms.xz", "--modules", D612 / "proc-modules"], [addr], extra=["--lines"])
    with pytest.warns(RuntimeWarning, match="no source lines"):
        assert lines_as_json(table.lines(addr)) == want["frames"] == []


def cli_decode(source: List[Any], text: str) -> List[Dict[str, Any]]:
    out = ksym_cli([*source, "decode", "--json"], stdin=text).stdout
    return [json.loads(line) for line in out.splitlines()]


def test_decode_equals_ksym_decode_json() -> None:
    oops = (DATA / "oops/oops-6.12-ext4.txt").read_text()
    source = ["--kallsyms", D612 / "kallsyms.xz", "--modules", D612 / "proc-modules"]
    want = cli_decode(source, oops)
    table = ksym.open_file(D612 / "kallsyms.xz", modules=D612 / "proc-modules")
    got = list(ksym.decode(oops, table))
    assert got == want == list(table.decode(oops))
    assert sum(1 for g in got if g["type"] == "frame" and g["status"] == "ok") > 10


def test_decode_finds_the_other_builds_frames() -> None:
    """The 6.12 oops against the 6.1 table: mismatches, as the command says."""
    oops = (DATA / "oops/oops-6.12-ext4.txt").read_text()
    source = ["--kallsyms", CLOUD / "kallsyms.xz"]
    want = cli_decode(source, oops)
    got = list(ksym.open_file(CLOUD / "kallsyms.xz").decode(oops))
    assert got == want
    assert any(g.get("status") == "mismatch" for g in got)
