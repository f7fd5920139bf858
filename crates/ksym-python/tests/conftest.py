"""What the tests share: where the shared data and the release `ksym`
command are, and the command's answers (`ksym addr --json` and friends)
that every answer of the package must equal."""

import json
import os
import random
import subprocess
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

import pytest

REPO = Path(__file__).resolve().parents[3]
# CI has shared/ beside the clone; KSYM_SHARED_DATA points elsewhere.
DATA = Path(os.environ.get("KSYM_SHARED_DATA", REPO.parent / "shared" / "data"))
KSYM_BIN = Path(os.environ.get("KSYM_BIN", REPO / "target" / "release" / "ksym"))
DEBUG_VMLINUX = Path.home() / ".cache/ksym-test-data/vmlinux-6.1.0-57-cloud-amd64"

D612 = DATA / "debian-6.12.117"
CLOUD = DATA / "debian-6.1.0-57-cloud"
ARM64 = DATA / "debian-6.1.0-57-cloud-arm64"


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One private cache for the command and the package alike, so that
    neither reads what earlier runs left in the user's cache."""
    d = tmp_path_factory.mktemp("ksym-cache")
    old = os.environ.get("KSYM_CACHE_DIR")
    os.environ["KSYM_CACHE_DIR"] = str(d)
    yield d
    if old is None:
        del os.environ["KSYM_CACHE_DIR"]
    else:
        os.environ["KSYM_CACHE_DIR"] = old


def need_data(*paths: Path) -> None:
    for p in paths:
        assert p.exists(), f"no shared data at {p} (shared/ must be beside the clone)"


def ksym_cli(args: Sequence[Any], stdin: str = "", check: bool = True) -> subprocess.CompletedProcess[str]:
    """Runs the release `ksym` command."""
    assert KSYM_BIN.is_file(), f"{KSYM_BIN} is missing: cargo build --release -p ksym-cli"
    run = subprocess.run(
        [str(KSYM_BIN), *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "DEBUGINFOD_URLS"},
    )
    if check and run.returncode != 0:
        raise AssertionError(f"ksym {args} failed ({run.returncode}): {run.stderr}")
    return run


def cli_addr_json(source: Sequence[Any], addrs: Sequence[int], extra: Sequence[str] = ()) -> List[Dict[str, Any]]:
    """`ksym SOURCE addr --json` over `addrs`, one object per address."""
    text = "".join(f"{a:x}\n" for a in addrs)
    out = ksym_cli([*source, "addr", "--json", *extra], stdin=text).stdout
    objs = [json.loads(line) for line in out.splitlines()]
    assert len(objs) == len(addrs)
    return objs


def cli_error(args: Sequence[Any], stdin: str = "") -> str:
    """The sentence a failing command prints, without `ksym: `."""
    run = ksym_cli(args, stdin=stdin, check=False)
    assert run.returncode != 0, f"ksym {args} did not fail"
    line = run.stderr.strip().splitlines()[-1]
    assert line.startswith("ksym: "), run.stderr
    return line[len("ksym: "):]


def symbol_addresses(source: Sequence[Any]) -> List[int]:
    """Every address-answering symbol's start, from `ksym dump`."""
    out = ksym_cli([*source, "dump"]).stdout
    addrs = []
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            addrs.append(int(fields[0], 16))
    assert addrs, "ksym dump gave no symbol"
    return addrs


def probe_addresses(starts: Sequence[int], n: int, seed: int = 23) -> List[int]:
    """Addresses to ask: symbol starts, points inside and just before
    symbols, and addresses no symbol holds (0, user space, the top)."""
    rng = random.Random(seed)
    picked = rng.sample(list(starts), min(n, len(starts)))
    addrs = []
    for a in picked:
        addrs.append(a)
        addrs.append(a + rng.randrange(1, 0x200))
        addrs.append(max(a - 1, 0))
    addrs += [0, 1, 0x7FFF_0000_1234, 0xFFFF_FFFF_FFFF_FFFF, max(starts) + 0x100_0000]
    return addrs


def symbol_as_json(s: Any) -> Optional[Dict[str, Any]]:
    """A ksym.Symbol as `ksym addr --json` writes one."""
    if s is None:
        return None
    d: Dict[str, Any] = {
        "name": s.name,
        "start": hex(s.start),
        "offset": s.offset,
        "size": s.size,
        "module": s.module,
        "type": s.type,
    }
    for extra in ("object", "path", "section"):
        if getattr(s, extra) is not None:
            d[extra] = getattr(s, extra)
    return d


def frame_as_json(f: Any) -> Dict[str, Any]:
    """A ksym.Frame as `ksym addr --json` writes the address (no section:
    batches do not ask which module section an address is in)."""
    if f.name is None:
        return {"addr": hex(f.addr), "symbol": None, "reason": f.reason}
    return {
        "addr": hex(f.addr),
        "symbol": {
            "name": f.name,
            "start": hex(f.start),
            "offset": f.offset,
            "size": f.size,
            "module": f.module,
            "type": f.type,
        },
    }


def without_section(obj: Dict[str, Any]) -> Dict[str, Any]:
    sym = obj.get("symbol")
    if sym is None:
        return obj
    return {**obj, "symbol": {k: v for k, v in sym.items() if k not in ("object", "path", "section")}}


def live_readable() -> Optional[str]:
    """None when /proc/kallsyms shows real addresses, else why not."""
    try:
        with open("/proc/kallsyms") as f:
            head = [next(f) for _ in range(50)]
    except (OSError, StopIteration) as e:
        return f"/proc/kallsyms is not readable here: {e}"
    if all(line.startswith("0000000000000000") for line in head):
        return "/proc/kallsyms shows only zeros to this user (kptr_restrict)"
    return None
