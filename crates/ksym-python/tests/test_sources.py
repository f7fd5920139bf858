"""Snapshots, the live kernel, errors, threads, and the table as an
iterable and a context manager; each against the `ksym` command."""

import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, List

import pytest

import ksym
from conftest import (
    D612,
    cli_addr_json,
    cli_error,
    frame_as_json,
    ksym_cli,
    live_readable,
    need_data,
    probe_addresses,
    symbol_addresses,
    symbol_as_json,
    without_section,
)

SRC612 = ["--kallsyms", D612 / "kallsyms.xz", "--modules", D612 / "proc-modules"]


def test_snapshot_answers_as_the_command_over_it(tmp_path: Path) -> None:
    need_data(D612)
    snap = tmp_path / "612.ksym"
    ksym_cli([*SRC612, "snapshot", "save", "-o", snap])
    cli = ["--snapshot", snap]
    addrs = probe_addresses(symbol_addresses(cli), 1000)
    want = cli_addr_json(cli, addrs)
    with ksym.open_snapshot(snap) as table:
        assert [symbol_as_json(table.lookup(a)) for a in addrs] == [w["symbol"] for w in want]
        assert [frame_as_json(f) for f in table.symbolize(addrs)] == [without_section(w) for w in want]
    # open_file tells a snapshot by its first bytes.
    assert symbol_as_json(ksym.open_file(snap).lookup(addrs[0])) == want[0]["symbol"]


def test_live_kernel_equals_ksym_addr_json() -> None:
    why = live_readable()
    if why:
        pytest.skip(why)
    starts = symbol_addresses([])
    addrs = probe_addresses(starts, 2000)
    want = cli_addr_json([], addrs)
    with ksym.open_live(watch=True) as table:
        assert [symbol_as_json(table.lookup(a)) for a in addrs] == [w["symbol"] for w in want]
        frames = table.symbolize(addrs)
        assert [frame_as_json(f) for f in frames] == [without_section(w) for w in want]
        assert table.release == os.uname().release
    with ksym.open_live(watch=False, cache=False) as fresh:
        assert [symbol_as_json(fresh.lookup(a)) for a in addrs[:300]] == [w["symbol"] for w in want[:300]]


def test_missing_file_is_not_found_with_the_commands_sentence(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-kallsyms"
    with pytest.raises(ksym.NotFound) as e:
        ksym.open_file(missing)
    assert str(e.value) == cli_error(["--kallsyms", missing, "addr", "0"])


def test_garbage_file_is_bad_input_with_the_commands_sentence(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_text("this is not a symbol file\n" * 10)
    with pytest.raises(ksym.BadInput) as e:
        ksym.open_file(junk, cache=False)
    assert str(e.value) == cli_error(["--no-cache", "--kallsyms", junk, "addr", "0"])


def test_damaged_snapshot_is_bad_input(tmp_path: Path) -> None:
    need_data(D612)
    snap = tmp_path / "s.ksym"
    ksym_cli([*SRC612, "snapshot", "save", "-o", snap])
    data = bytearray(snap.read_bytes())
    data[len(data) // 2] ^= 0xFF
    snap.write_bytes(bytes(data))
    with pytest.raises(ksym.BadInput) as e:
        ksym.open_snapshot(snap)
    assert str(e.value) == cli_error(["--snapshot", snap, "addr", "0"])


def test_zero_addresses_are_redacted(tmp_path: Path) -> None:
    """A kallsyms read without privilege: every address zero."""
    redacted = tmp_path / "kallsyms"
    redacted.write_text("".join(f"0000000000000000 T func_{i}\n" for i in range(100)))
    with pytest.raises(ksym.Redacted) as e:
        ksym.open_file(redacted, cache=False)
    assert str(e.value) == cli_error(["--no-cache", "--kallsyms", redacted, "addr", "0"])


@pytest.mark.parametrize(
    "bad",
    [["0x1", 2], [-1], [2**64], "ffffffff81000000", 12345, None],
)
def test_bad_addresses_are_bad_input(bad: Any) -> None:
    table = ksym.open_file(D612 / "kallsyms.xz")
    with pytest.raises(ksym.BadInput):
        table.symbolize(bad)


def test_bad_buffers_and_kinds_are_bad_input() -> None:
    np = pytest.importorskip("numpy")
    table = ksym.open_file(D612 / "kallsyms.xz")
    with pytest.raises(ksym.BadInput, match="uint64"):
        table.symbolize(np.array([1, 2], dtype=np.int64))
    with pytest.raises(ksym.BadInput, match="one dimension"):
        table.symbolize(np.zeros((2, 2), dtype=np.uint64))
    with pytest.raises(ksym.BadInput, match="kind"):
        table.symbolize([1], kind="exactly")  # type: ignore[arg-type]
    for bad_addr in ["zz", "0x", -5, 2**64, 1.5]:
        with pytest.raises(ksym.BadInput):
            table.lookup(bad_addr)  # type: ignore[arg-type]
    # A strided view is not one block: read as a sequence, same answers.
    addrs = np.array(symbol_addresses(SRC612)[:2000], dtype=np.uint64)
    strided = addrs[::2]
    assert [frame_as_json(f) for f in table.symbolize(strided)] == [
        frame_as_json(f) for f in table.symbolize([int(a) for a in strided])
    ]
    # Hex text is an address, as `ksym addr` takes it.
    assert table.lookup(hex(int(addrs[5]))) == table.lookup(int(addrs[5]))


def test_threads_share_a_table() -> None:
    need_data(D612)
    table = ksym.open_file(D612 / "kallsyms.xz", modules=D612 / "proc-modules")
    addrs = probe_addresses(symbol_addresses(SRC612), 3000, seed=5)
    want = [frame_as_json(f) for f in table.symbolize(addrs)]
    want_lookup = [symbol_as_json(table.lookup(a)) for a in addrs[:2000]]
    barrier = threading.Barrier(4)

    def work(i: int) -> bool:
        barrier.wait()
        for _ in range(5):
            if [frame_as_json(f) for f in table.symbolize(addrs, kind="exact")] != want:
                return False
            part = addrs[i * 500 : (i + 1) * 500]
            if [symbol_as_json(table.lookup(a)) for a in part] != want_lookup[i * 500 : (i + 1) * 500]:
                return False
        return True

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, range(4)))
    stats = table.stats()
    assert stats["batches"] == 1 + 4 * 5
    assert stats["ips"] == len(addrs) * 21
    assert stats["ips"] == stats["resolved"] + stats["raw"]


def test_table_iterates_its_symbols_as_ksym_dump_json() -> None:
    table = ksym.open_file(D612 / "kallsyms.xz", modules=D612 / "proc-modules")
    out = ksym_cli([*SRC612, "dump", "--format", "json"]).stdout
    dumped: List[Any] = [json.loads(line) for line in out.splitlines()]
    names = [(s.name, s.start, s.module) for s in table]
    assert len(names) == len(table)
    want = sorted((d["name"], int(d["addr"], 16), d.get("module")) for d in dumped)
    assert sorted(names) == want


def test_a_closed_table_says_so() -> None:
    with ksym.open_file(D612 / "kallsyms.xz") as table:
        frames = table.symbolize([0xFFFFFFFF9B000000])
        assert table.lookup(0xFFFFFFFF9B000000) is not None
    with pytest.raises(ksym.Error, match="closed"):
        table.lookup(0xFFFFFFFF9B000000)
    # Frames made before keep their table.
    assert frames[0].name is not None


def test_frames_are_a_sequence() -> None:
    from collections.abc import Sequence

    table = ksym.open_file(D612 / "kallsyms.xz")
    frames = table.symbolize([0xFFFFFFFF9B000000, 1])
    assert isinstance(frames, Sequence)
    assert frames[-1].reason == "no_symbol" and frames[0].name is not None
    with pytest.raises(IndexError):
        frames[2]
