#!/usr/bin/env python3
"""Writes small synthetic kernel images to fuzz/seeds/image/ for the `image`
fuzz target: kallsyms tables laid out the way scripts/kallsyms.c lays them
out (both table orders, each address encoding), raw, in an ELF file, in a
whole-file xz, and as bzImage payloads (gzip, xz, lzma). The seeds are
committed; fuzz/corpus/ (what the fuzzer grows) is not.

    python3 fuzz/make-image-seeds.py
"""
import gzip
import lzma
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds", "image")
BASE = 0xFFFFFFFF81000000


def symbols(n):
    syms = [(i * 0x40, "A", "percpu_%d" % i) for i in range(24)]
    for i in range(n):
        name = "sym_%d_%s" % (i, "q" * (i % 7)) if i != 5 else "L" * 150
        syms.append((BASE + i * 0x30, "TtdDb"[i % 5], name))
    return syms


def pad(b, a=8):
    while len(b) % a:
        b.append(0)


def tables(syms, layout, encoding):
    """layout: 'new' (6.4+) or 'old'; encoding: percpu, relative, absolute."""
    tokens = []
    for c in range(256):
        ch = bytes([c])
        tokens.append(ch if 0x21 <= c < 0x7F else bytes([97 + c % 26, 97 + c // 26 % 26]))
    names, markers = bytearray(), []
    for i, (_, kind, name) in enumerate(syms):
        if i % 256 == 0:
            markers.append(len(names))
        body = (kind + name).encode()
        if len(body) > 0x7F:
            names += bytes([(len(body) & 0x7F) | 0x80, len(body) >> 7])
        else:
            names.append(len(body))
        names += body
    if encoding != "percpu":
        syms = [(BASE - 0x1000 + a if k == "A" else a, k, n) for a, k, n in syms]
    base = min(a for a, k, _ in syms if k != "A") if encoding == "percpu" else syms[0][0]
    addrs = bytearray()
    for a, k, _ in syms:
        if encoding == "percpu":
            v = a if k == "A" else (base - a - 1) & 0xFFFFFFFF
            addrs += struct.pack("<I", v)
        elif encoding == "relative":
            addrs += struct.pack("<I", a - base)
        else:
            addrs += struct.pack("<Q", a)
    out = bytearray(b"\x90" * 256)

    def put_addrs():
        pad(out)
        out.extend(addrs)
        if encoding != "absolute":
            pad(out)
            out.extend(struct.pack("<Q", base))

    if layout == "old":
        put_addrs()
    pad(out)
    out += struct.pack("<I", len(syms))
    pad(out)
    out += names
    pad(out)
    for m in markers:
        out += struct.pack("<I", m)
    pad(out)
    index, at = [], len(out)
    for t in tokens:
        index.append(len(out) - at)
        out += t + b"\0"
    pad(out)
    for i in index:
        out += struct.pack("<H", i)
    if layout == "new":
        put_addrs()
    out += b"Linux version 6.99.0-fuzz (seed) #1 SMP\n\0"
    out += b"\xcc" * 256
    return bytes(out)


def elf(rodata):
    """A 64-bit ET_EXEC: .text (no bits) where the symbols are, .rodata
    holding the tables, a build-id note."""
    note = struct.pack("<III", 4, 20, 3) + b"GNU\0" + bytes(range(20))
    shstr = b"\0.rodata\0.notes\0.shstrtab\0.text\0"
    body_at = 64
    rod_at = body_at
    note_at = rod_at + len(rodata)
    shstr_at = note_at + len(note)
    sh_at = (shstr_at + len(shstr) + 7) & ~7
    hdr = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    hdr += struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, BASE, 0, sh_at, 0, 64, 0, 0, 64, 5, 3)
    data = bytearray(hdr) + rodata + note + shstr
    pad(data)

    def sh(name, typ, flags, addr, off, size):
        return struct.pack("<IIQQQQIIQQ", name, typ, flags, addr, off, size, 0, 0, 1, 0)

    data += bytes(64)
    data += sh(1, 1, 2, BASE + 0x1000000, rod_at, len(rodata))
    data += sh(9, 7, 2, BASE + 0x2000000, note_at, len(note))
    data += sh(16, 3, 0, 0, shstr_at, len(shstr))
    data += sh(26, 8, 6, BASE, 0, 0x1000000)
    return bytes(data)


def bzimage(payload):
    setup_sects = 1
    b = bytearray((setup_sects + 1) * 512)
    b[0x1F1] = setup_sects
    b[0x202:0x206] = b"HdrS"
    b[0x206:0x208] = struct.pack("<H", 0x020F)
    body = bytearray(0x40) + payload + struct.pack("<I", 1 << 20)
    b[0x248:0x24C] = struct.pack("<I", 0x40)
    b[0x24C:0x250] = struct.pack("<I", len(payload) + 4)
    return bytes(b + body)


def arm64_image(syms):
    """A raw arm64 Image (header magic at 0x38) whose relative base is 0 in
    the file and only the addend of its R_AARCH64_RELATIVE entry, as
    --no-apply-dynamic-relocs leaves it (see parse/image/arm64.rs)."""
    body = bytearray(tables(syms, "new", "relative"))
    base = BASE - 0x1000
    header_len = 64
    word = body.rfind(struct.pack("<Q", base))
    body[word:word + 8] = bytes(8)
    link = base & ~0x1FFFFF
    image_size = 0x400000
    header = bytearray(header_len)
    header[16:24] = struct.pack("<Q", image_size)
    header[0x38:0x3C] = b"ARM\x64"
    out = header + body
    pad(out)
    for i in range(99):
        out += struct.pack("<QQQ", link + header_len + 8 * i, 1027, link)
    out += struct.pack("<QQQ", link + header_len + word, 1027, base)
    return bytes(out)


def notes(build_id):
    """A kernel's `.notes`: its GNU build-id note, then a Linux one."""
    n = struct.pack("<III", 4, len(build_id), 3) + b"GNU\0" + build_id
    return n + struct.pack("<III", 6, 4, 0x101) + b"Linux\0\0\0" + bytes(4)


def vdso(build_id):
    """A small 64-bit ELF file (a vDSO) with a build-id note of its own,
    its section headers last."""
    h = bytearray(64)
    h[0:6] = b"\x7fELF\x02\x01"
    body = notes(build_id)
    h[0x28:0x30] = struct.pack("<Q", 64 + len(body))
    h[0x3A:0x3E] = struct.pack("<HH", 64, 2)
    return bytes(h) + body + bytes(128)


def arm64_image_with_notes(syms):
    """arm64_image with a vDSO and then the kernel's own notes between the
    tables and the relocations: the build-id is the kernel's."""
    image = bytearray(arm64_image(syms))
    rela_at = image.find(struct.pack("<Q", 1027)) - 8
    extra = bytearray(vdso(b"\x11" * 20))
    pad(extra)
    extra += notes(b"\x22" * 20)
    pad(extra)
    return bytes(image[:rela_at] + extra + image[rela_at:])


def zboot(payload, name):
    """An EFI zboot image: MZ, zimg, the payload's offset and size, the
    compression's name at 0x18."""
    head = bytearray(0x40)
    head[0:2] = b"MZ"
    head[4:8] = b"zimg"
    head[8:12] = struct.pack("<I", len(head))
    head[12:16] = struct.pack("<I", len(payload))
    head[0x18:0x18 + len(name)] = name
    return bytes(head + payload)


def main():
    os.makedirs(OUT, exist_ok=True)
    syms = symbols(600)
    seeds = {
        "raw-6.4-percpu": tables(syms, "new", "percpu"),
        "raw-old-percpu": tables(syms, "old", "percpu"),
        "raw-6.4-relative": tables(syms, "new", "relative"),
        "raw-old-absolute": tables(syms, "old", "absolute"),
    }
    kernel = elf(seeds["raw-6.4-percpu"])
    seeds["elf-6.4-percpu"] = kernel
    seeds["vmlinux.xz"] = lzma.compress(kernel, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32)
    seeds["bzimage-gzip"] = bzimage(gzip.compress(kernel, mtime=0))
    seeds["bzimage-xz"] = bzimage(lzma.compress(kernel, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32))
    seeds["bzimage-lzma"] = bzimage(lzma.compress(kernel, format=lzma.FORMAT_ALONE))
    seeds["raw-arm64-rela"] = arm64_image(syms)
    seeds["zboot-gzip-arm64"] = zboot(gzip.compress(seeds["raw-arm64-rela"], mtime=0), b"gzip")
    seeds["raw-arm64-notes"] = arm64_image_with_notes(syms)
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        print("%-20s %6d bytes" % (name, len(data)))


if __name__ == "__main__":
    main()
