"""ksym against its peers over the same symbols: drgn's SymbolIndex (drgn's
own C lookup) and the bisect scripts write by hand agree with ksym on name
and start for 10,000 random text addresses; an alias choice (the same
start, another of its names) is reported, not counted wrong."""

import sys
from collections import Counter
from pathlib import Path
from typing import Any, Optional, Tuple

import pytest

import ksym
from conftest import D612, need_data

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import peers  # noqa: E402


def agreement(table: ksym.Table, peer: Any, addrs: Any) -> Counter[str]:
    counts: Counter[str] = Counter()
    for a in addrs:
        s = table.lookup(a)
        mine: Optional[Tuple[str, int]] = (s.name, s.start) if s else None
        theirs = peer.lookup(a)
        if theirs == mine:
            counts["agree"] += 1
        elif mine and theirs and theirs[1] == mine[1] and any(x.start == mine[1] for x in table.find(theirs[0])):
            counts["alias"] += 1
        else:
            counts["wrong"] += 1
    return counts


@pytest.mark.parametrize("peer_name", ["drgn", "bisect"])
def test_peers_agree_on_10000_text_addresses(peer_name: str) -> None:
    need_data(D612)
    if peer_name == "drgn":
        pytest.importorskip("drgn")
    lines = peers.read_kallsyms(D612 / "kallsyms.xz")
    peer = peers.DrgnPeer(lines) if peer_name == "drgn" else peers.BisectPeer(lines)
    table = ksym.open_file(D612 / "kallsyms.xz", modules=D612 / "proc-modules")
    addrs = peers.text_addresses(lines, 10_000)
    counts = agreement(table, peer, addrs)
    print(f"{peer_name}: {counts['agree']} agree, {counts['alias']} alias choices, {counts['wrong']} wrong")
    assert counts["wrong"] == 0
    assert counts["agree"] + counts["alias"] == 10_000
