"""Every answer of the package equals the `ksym` command's for the same
source and address: lookup and symbolize against `ksym addr --json`, find
against `ksym name --json`, resolve against `ksym resolve`, over the shared
data's kernels (x86_64 and arm64, files, images, .ko sizes)."""

import array
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import pytest

import ksym
from conftest import (
    ARM64,
    CLOUD,
    D612,
    DATA,
    cli_addr_json,
    frame_as_json,
    ksym_cli,
    need_data,
    probe_addresses,
    symbol_addresses,
    symbol_as_json,
    without_section,
)

np = pytest.importorskip("numpy")

# (test id, the command's source options, open_file's arguments)
SOURCES: List[Tuple[str, List[Any], Dict[str, Any]]] = [
    (
        "6.12+modules",
        ["--kallsyms", D612 / "kallsyms.xz", "--modules", D612 / "proc-modules"],
        {"path": D612 / "kallsyms.xz", "modules": D612 / "proc-modules"},
    ),
    (
        "6.12+ko",
        ["--kallsyms", D612 / "kallsyms.xz", "--ko", D612 / "ko/nvme.ko.xz", "--ko", D612 / "ko/ext4.ko.xz"],
        {"path": D612 / "kallsyms.xz", "ko": [D612 / "ko/nvme.ko.xz", D612 / "ko/ext4.ko.xz"]},
    ),
    ("6.12-image", ["--image", D612 / "vmlinuz"], {"path": D612 / "vmlinuz"}),
    (
        "6.1-cloud+layout",
        ["--kallsyms", CLOUD / "kallsyms.xz", "--modules", CLOUD / "module-layout.tsv"],
        {"path": CLOUD / "kallsyms.xz", "modules": CLOUD / "module-layout.tsv"},
    ),
    (
        "arm64+vfat.ko",
        ["--kallsyms", ARM64 / "kallsyms.xz", "--modules", ARM64 / "proc-modules", "--ko", ARM64 / "ko/vfat.ko"],
        {"path": ARM64 / "kallsyms.xz", "modules": ARM64 / "proc-modules", "ko": [ARM64 / "ko/vfat.ko"]},
    ),
    ("live-6.18-file", ["--kallsyms", DATA / "live-6.18/kallsyms.xz"], {"path": DATA / "live-6.18/kallsyms.xz"}),
]

_cache: Dict[str, Tuple[ksym.Table, List[int], List[Dict[str, Any]]]] = {}


def prepared(name: str) -> Tuple[ksym.Table, List[Any], List[int], List[Dict[str, Any]]]:
    """The table, the command's options, the probe addresses and the
    command's answers for them (made once per source)."""
    (_, cli, kwargs) = next(s for s in SOURCES if s[0] == name)
    need_data(*[v for v in cli if isinstance(v, Path)])
    if name not in _cache:
        table = ksym.open_file(**kwargs)
        addrs = probe_addresses(symbol_addresses(cli), 1500)
        _cache[name] = (table, addrs, cli_addr_json(cli, addrs))
    table, addrs, want = _cache[name]
    return table, cli, addrs, want


@pytest.mark.parametrize("name", [s[0] for s in SOURCES])
def test_lookup_equals_ksym_addr_json(name: str) -> None:
    table, _, addrs, want = prepared(name)
    for a, w in zip(addrs, want):
        got = table.lookup(a)
        assert symbol_as_json(got) == w["symbol"], hex(a)
        if got is not None:
            assert got.addr == a
    # Some of the probes have symbols and some do not: the comparison saw both.
    assert any(w["symbol"] for w in want) and any(w["symbol"] is None for w in want)


def test_lookup_names_the_module_section_as_the_command_does() -> None:
    """arm64 with vfat's .ko: addresses in .plt carry "section"."""
    table, cli, _, _ = prepared("arm64+vfat.ko")
    plt = 0xFFFFD5FB84852584  # exit_vfat_fs, in vfat's .plt (README)
    (want,) = cli_addr_json(cli, [plt])
    got = table.lookup(plt)
    assert got is not None and got.section == ".plt"
    assert symbol_as_json(got) == want["symbol"]


@pytest.mark.parametrize("name", [s[0] for s in SOURCES])
def test_symbolize_list_and_numpy_equal_ksym_addr_json(name: str) -> None:
    table, _, addrs, want = prepared(name)
    want = [without_section(w) for w in want]
    from_list = table.symbolize(addrs)
    from_numpy = table.symbolize(np.array(addrs, dtype=np.uint64))
    from_array = table.symbolize(array.array("Q", addrs))
    assert len(from_list) == len(addrs)
    assert [frame_as_json(f) for f in from_list] == want
    assert [frame_as_json(f) for f in from_numpy] == want
    assert [frame_as_json(f) for f in from_array] == want
    assert from_list.resolved == sum(1 for w in want if w["symbol"])
    assert list(from_list.addrs) == addrs
    assert frame_as_json(from_list[-1]) == want[-1]


def test_symbolize_return_addresses_look_up_the_call() -> None:
    """kind="return": the symbol of addr - 1, the offset from addr (%pB)."""
    table, cli, addrs, _ = prepared("6.12+modules")
    addrs = [a for a in addrs if a > 0]
    before = cli_addr_json(cli, [a - 1 for a in addrs])
    frames = table.symbolize(np.array(addrs, dtype=np.uint64), kind="return")
    for a, f, w in zip(addrs, frames, before):
        sym = w["symbol"]
        if sym is None:
            assert f.name is None and f.reason == w["reason"], hex(a)
            continue
        assert (f.name, hex(f.start or 0), f.size, f.module) == (sym["name"], sym["start"], sym["size"], sym["module"])
        assert f.offset == sym["offset"] + 1
    # A symbol's start as a return address belongs to the symbol before.
    starts = [a for a, w in zip(addrs, before) if w["symbol"] and int(w["symbol"]["start"], 16) == a - 1]
    assert starts, "no probe was one past a symbol's start"


def test_stack_kind_first_exact_then_return() -> None:
    table, _, addrs, _ = prepared("6.12+modules")
    some = addrs[:50]
    stack = table.symbolize(some, kind="stack")
    exact = table.symbolize(some[:1])
    ret = table.symbolize(some[1:], kind="return")
    assert [frame_as_json(f) for f in stack] == [frame_as_json(f) for f in [*exact, *ret]]


def test_str_of_frames_is_percent_ps() -> None:
    table, _, addrs, want = prepared("6.12+modules")
    text = ksym_cli([*prepared("6.12+modules")[1], "addr", *[hex(a) for a in addrs[:200]]]).stdout
    lines = text.splitlines()
    for f, line in zip(table.symbolize(addrs[:200]), lines):
        if f.name is None:
            assert line.endswith("(no symbol)") and str(f) == hex(f.addr)
        else:
            assert line.split(" ", 1)[1] == str(f)


def cli_find(cli: Sequence[Any], name: str) -> List[Dict[str, Any]]:
    import json

    run = ksym_cli([*cli, "name", "--json", name], check=False)
    return [json.loads(line)["symbol"] for line in run.stdout.splitlines()]


@pytest.mark.parametrize("name", ["init_once", "ext4_writepages", "show#2 [vmlinux]", "nvme_probe [nvme]", "no_such_symbol"])
def test_find_equals_ksym_name_json(name: str) -> None:
    table, cli, _, _ = prepared("6.12+modules")
    want = cli_find(cli, name)
    got = [symbol_as_json(s) for s in table.find(name)]
    assert got == want
    if name != "no_such_symbol":
        assert got, f"the command found no {name}"


def test_find_held_to_a_module() -> None:
    table, cli, _, _ = prepared("6.12+modules")
    import json

    run = ksym_cli([*cli, "name", "--json", "--module", "ext4", "init_once"])
    want = [json.loads(line)["symbol"] for line in run.stdout.splitlines()]
    assert [symbol_as_json(s) for s in table.find("init_once", module="ext4")] == want == want[:1]


def test_resolve_equals_ksym_resolve() -> None:
    table, cli, addrs, want = prepared("6.12+modules")
    refs = [f"{w['symbol']['name']}+{w['symbol']['offset']:#x}/{w['symbol']['size']:#x}" + (f" [{w['symbol']['module']}]" if w["symbol"]["module"] else "") for w in want[:300] if w["symbol"]]
    out = ksym_cli([*cli, "resolve", *refs], check=False)
    got_lines = []
    for r in refs:
        try:
            got_lines.append(f"{table.resolve(r):#018x} {r}")
        except ksym.Error:
            pass
    assert got_lines == out.stdout.splitlines()
    assert len(got_lines) > 100


@pytest.mark.parametrize(
    "reference,error",
    [
        ("no_such_function+0x1/0x10", ksym.NotFound),
        ("ext4_writepages+0x1/0x3", ksym.Mismatch),
        ("ext4_writepages+0x9999/0x170 [ext4]", ksym.Mismatch),
        ("init_once+0x1/0x10", ksym.Ambiguous),
        ("+0x1/0x2 [", ksym.BadInput),
    ],
)
def test_resolve_errors_carry_the_commands_sentence(reference: str, error: type) -> None:
    from conftest import cli_error

    table, cli, _, _ = prepared("6.12+modules")
    with pytest.raises(error) as e:
        table.resolve(reference)
    assert isinstance(e.value, ksym.Error)
    assert str(e.value) == cli_error([*cli, "resolve", reference])
