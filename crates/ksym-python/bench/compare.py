"""ksym beside drgn's SymbolIndex and a hand-written bisect, over the same
symbols (the 6.12 data's kallsyms) and the same addresses:

- per-address lookup (one call per address, 100,000 random text addresses);
- a batch of 100,000 addresses (ksym: one symbolize call on a numpy array;
  the peers have no batch call, so a loop), beside the Rust batch cost of
  the same addresses from target/release/examples/batch_cost, timed in
  turns with it as go/ksym's benchmark does (nine segments, medians, both
  pinned to CPU 0);
- start-up to the first answer (in-process, after `import`).

    python bench/compare.py [--kallsyms FILE] [--quick]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence

import numpy as np

import ksym

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
DATA = Path(os.environ.get("KSYM_SHARED_DATA", REPO.parent / "shared" / "data"))
BATCH_COST = REPO / "target" / "release" / "examples" / "batch_cost"
BENCH_CPU = 0


def ns_per(n: int, seconds: float) -> float:
    return seconds * 1e9 / n


def best_of(runs: int, f: Callable[[], Any]) -> float:
    """The shortest of `runs` timings of f, in seconds."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def per_address(name: str, lookup: Callable[[int], Any], addrs: Sequence[int]) -> None:
    def run() -> None:
        for a in addrs:
            lookup(a)

    run()
    print(f"  {name:<28} {ns_per(len(addrs), best_of(3, run)):8.0f} ns/address")


class RustPeer:
    """batch_cost over the same addresses, asked for timed runs."""

    def __init__(self, kallsyms: Path, addrs: Sequence[int], tmp: Path) -> None:
        listing = tmp / "addresses"
        listing.write_text("".join(f"{a:x}\n" for a in addrs))
        cmd = [str(BATCH_COST), str(kallsyms), str(listing)]
        if shutil.which("taskset"):
            cmd = ["taskset", "-c", str(BENCH_CPU), *cmd]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def run(self, batch: int, first: int, count: int) -> float:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(f"{batch} {first} {count}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line.startswith("ns/ip="):
            raise RuntimeError(f"batch_cost said {line!r}")
        return float(line[len("ns/ip=") :])

    def close(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.close()
        self.proc.wait()


def batch_vs_rust(table: ksym.Table, kallsyms: Path, addrs: List[int], repeats: int) -> None:
    """Nine segments, each: the Rust side's run, then ours over the same
    batch; medians of ns/address and of the per-segment ratios."""
    arr = np.array(addrs, dtype=np.uint64)
    n = len(addrs)
    with tempfile.TemporaryDirectory() as tmp:
        rust = RustPeer(kallsyms, addrs, Path(tmp)) if BATCH_COST.is_file() else None
        if rust is None:
            print(f"  (no Rust figure: {BATCH_COST} is not built: cargo build --release -p ksym --example batch_cost)")
        call, names, rust_ns, ratios, ratios_names = [], [], [], [], []
        for _ in range(9):
            r = rust.run(n, 0, repeats) if rust else float("nan")
            table.symbolize(arr)  # untimed, as batch_cost runs once first
            t = time.perf_counter()
            for _ in range(repeats):
                frames = table.symbolize(arr)
            c = ns_per(n * repeats, time.perf_counter() - t)
            t = time.perf_counter()
            for _ in range(repeats):
                frames = table.symbolize(arr)
                for f in frames:
                    (f.name, f.module)
            m = ns_per(n * repeats, time.perf_counter() - t)
            call.append(c)
            names.append(m)
            rust_ns.append(r)
            ratios.append(c / r)
            ratios_names.append(m / r)
        if rust:
            rust.close()
    med = statistics.median
    print(f"  {'Rust batch_cost (reference)':<28} {med(rust_ns):8.1f} ns/address")
    print(f"  {'ksym symbolize(numpy)':<28} {med(call):8.1f} ns/address  = {med(ratios):.2f}x Rust (target <= 1.5x)")
    print(f"  {'  + every frame name/module':<28} {med(names):8.1f} ns/address  = {med(ratios_names):.2f}x Rust (Frame objects made)")


def start_up(name: str, first_answer: Callable[[], Any], runs: int = 5) -> None:
    t = best_of(runs, first_answer)
    print(f"  {name:<40} {t * 1e3:9.2f} ms")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kallsyms", type=Path, default=DATA / "debian-6.12.117" / "kallsyms.xz")
    ap.add_argument("--quick", action="store_true", help="fewer addresses and repeats")
    args = ap.parse_args()
    try:
        os.sched_setaffinity(0, {BENCH_CPU})
    except OSError as e:
        print(f"(could not pin to CPU {BENCH_CPU}: {e})")
    n = 20_000 if args.quick else 100_000
    lines = peers.read_kallsyms(args.kallsyms)
    addrs = peers.text_addresses(lines, n)
    table = ksym.open_file(args.kallsyms, cache=False)
    bis = peers.BisectPeer(lines)
    drgn_peer: Optional[peers.DrgnPeer] = None
    try:
        drgn_peer = peers.DrgnPeer(lines)
    except ImportError:
        print("(drgn is not installed: pip install drgn)")

    print(f"{args.kallsyms}: {len(table)} symbols; {n} random text addresses")
    print("per-address lookup (one call each):")
    per_address("ksym Table.lookup", table.lookup, addrs)
    if drgn_peer:
        per_address("drgn Program.symbol", drgn_peer.lookup, addrs)
    per_address("bisect", bis.lookup, addrs)

    print(f"batch of {n} addresses:")
    batch_vs_rust(table, args.kallsyms, addrs, 3 if args.quick else 5)
    if drgn_peer:
        per_address("drgn (a loop: no batch call)", drgn_peer.lookup, addrs)
    per_address("bisect (a loop)", bis.lookup, addrs)

    print("start-up to the first answer (in-process, after import):")
    probe = addrs[0]
    with tempfile.TemporaryDirectory() as tmp:
        snap = Path(tmp) / "t.ksym"
        ksym_bin = REPO / "target" / "release" / "ksym"
        subprocess.run([str(ksym_bin), "--kallsyms", str(args.kallsyms), "snapshot", "save", "-o", str(snap)], check=True)
        start_up("ksym.open_snapshot (a snapshot file)", lambda: ksym.open_snapshot(snap).lookup(probe))
        cache = Path(tmp) / "cache"
        os.environ["KSYM_CACHE_DIR"] = str(cache)
        ksym.open_file(args.kallsyms).lookup(probe)  # fills the file cache
        start_up("ksym.open_file (snapshot cache warm)", lambda: ksym.open_file(args.kallsyms).lookup(probe))
        start_up("ksym.open_file (no cache: parse .xz)", lambda: ksym.open_file(args.kallsyms, cache=False).lookup(probe), 3)
        if os.access("/proc/kallsyms", os.R_OK):
            ksym.open_live(watch=False).lookup(probe)  # fills the live cache
            start_up("ksym.open_live (snapshot cache warm)", lambda: ksym.open_live(watch=False).lookup(probe))
            start_up("ksym.open_live(watch=True) (cache warm)", lambda: ksym.open_live(watch=True).lookup(probe))
        del os.environ["KSYM_CACHE_DIR"]
    if drgn_peer:
        start_up("drgn (parse .xz, Symbols, SymbolIndex)", lambda: peers.DrgnPeer(peers.read_kallsyms(args.kallsyms)).lookup(probe), 2)
    start_up("bisect (parse .xz, sort)", lambda: peers.BisectPeer(peers.read_kallsyms(args.kallsyms)).lookup(probe), 2)


if __name__ == "__main__":
    main()
