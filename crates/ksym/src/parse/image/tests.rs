//! Unit tests of the image decoder, on synthetic kernels written the way
//! `scripts/kallsyms.c` writes its tables.

use std::io::Read;

use super::elf::ElfInfo;
use super::search::{align_up, find_tables, Rd};
use super::tokens::token_indexes;
use super::*;

/// A synthetic kernel: tables written the way `scripts/kallsyms.c`
/// writes them, with no compression (each character its own token).
pub(crate) fn synthetic(syms: &[(u64, u8, &str)], new_layout: bool) -> Vec<u8> {
    synthetic_with(syms, new_layout, true, false)
}

/// `long`: two-byte lengths for entries over 127 tokens (6.1+);
/// `old`: the 4.x style, `unsigned long` addresses, count and markers.
fn synthetic_with(syms: &[(u64, u8, &str)], new_layout: bool, long: bool, old: bool) -> Vec<u8> {
    let mut tokens: Vec<Vec<u8>> = (0..256u32)
        .map(|c| {
            let c = c as u8;
            if c.is_ascii_graphic() {
                vec![c]
            } else {
                // Unused slots hold two-character tokens.
                vec![b'a' + c % 26, b'a' + c / 26 % 26]
            }
        })
        .collect();
    tokens[0] = b"xx".to_vec();
    let mut names = Vec::new();
    let mut markers = Vec::new();
    for (i, &(_, kind, name)) in syms.iter().enumerate() {
        if i.is_multiple_of(256) {
            markers.push(names.len() as u32);
        }
        let len = name.len() + 1;
        if len > 0x7f && long {
            names.push((len as u8 & 0x7f) | 0x80);
            names.push((len >> 7) as u8);
        } else {
            names.push(len as u8);
        }
        names.push(kind);
        names.extend_from_slice(name.as_bytes());
    }
    let base = syms.iter().find(|s| s.1 != b'A').unwrap().0;
    let offsets: Vec<u32> = syms
        .iter()
        .map(|&(a, k, _)| {
            if k == b'A' {
                a as u32
            } else {
                base.wrapping_sub(a).wrapping_sub(1) as u32
            }
        })
        .collect();
    let mut out = vec![0x90u8; 4096];
    let pad = |out: &mut Vec<u8>| {
        while !out.len().is_multiple_of(8) {
            out.push(0);
        }
    };
    let put_offsets = |out: &mut Vec<u8>| {
        pad(out);
        if old {
            for s in syms {
                out.extend(s.0.to_le_bytes());
            }
            return;
        }
        for o in &offsets {
            out.extend(o.to_le_bytes());
        }
        pad(out);
        out.extend(base.to_le_bytes());
    };
    if !new_layout {
        put_offsets(&mut out);
    }
    pad(&mut out);
    if old {
        out.extend((syms.len() as u64).to_le_bytes());
    } else {
        out.extend((syms.len() as u32).to_le_bytes());
    }
    pad(&mut out);
    out.extend(&names);
    pad(&mut out);
    for &m in &markers {
        if old {
            out.extend(u64::from(m).to_le_bytes());
        } else {
            out.extend(m.to_le_bytes());
        }
    }
    pad(&mut out);
    let mut index = Vec::new();
    let table_at = out.len();
    for t in &tokens {
        index.push((out.len() - table_at) as u16);
        out.extend(t);
        out.push(0);
    }
    pad(&mut out);
    for i in index {
        out.extend(i.to_le_bytes());
    }
    if new_layout {
        put_offsets(&mut out);
    }
    out.extend(vec![0xccu8; 4096]);
    out
}

fn sample(n: usize) -> Vec<(u64, u8, String)> {
    let mut v: Vec<(u64, u8, String)> = (0..40)
        .map(|i| (i * 0x40, b'A', format!("percpu_{i}")))
        .collect();
    for i in 0..n {
        let kind = [b'T', b't', b'd', b'D', b'b'][i % 5];
        let name = if i == 7 {
            "x".repeat(200)
        } else {
            format!("sym_{i}_{}", "q".repeat(i % 17))
        };
        v.push((0xffff_ffff_8100_0000 + (i as u64) * 0x30, kind, name));
    }
    v
}

#[test]
fn synthetic_layouts_round_trip() {
    for new_layout in [true, false] {
        let syms = sample(1500);
        let refs: Vec<(u64, u8, &str)> =
            syms.iter().map(|(a, k, n)| (*a, *k, n.as_str())).collect();
        let img = synthetic(&refs, new_layout);
        let got = kallsyms_from_image(&img).unwrap();
        assert_eq!(got.container, Container::Raw);
        assert_eq!(
            got.encoding,
            AddressEncoding::AbsolutePercpu {
                base: 0xffff_ffff_8100_0000
            }
        );
        assert!(got.layout.long_lengths);
        assert_eq!(got.symbols.len(), syms.len());
        for (g, (a, k, n)) in got.symbols.iter().zip(&syms) {
            assert_eq!((g.addr, g.kind, g.name.as_str()), (*a, *k, n.as_str()));
        }
    }
}

fn sample_image() -> (Vec<(u64, u8, String)>, Vec<u8>) {
    let syms = sample(700);
    let refs: Vec<(u64, u8, &str)> = syms.iter().map(|(a, k, n)| (*a, *k, n.as_str())).collect();
    let img = synthetic(&refs, true);
    (syms, img)
}

/// A bzImage around `payload` (boot protocol 2.15, one setup sector).
fn bzimage(payload: &[u8], unpacked: usize) -> Vec<u8> {
    let mut b = vec![0u8; 1024];
    b[0x1f1] = 1;
    b[0x202..0x206].copy_from_slice(b"HdrS");
    b[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
    b[0x248..0x24c].copy_from_slice(&0x40u32.to_le_bytes());
    b[0x24c..0x250].copy_from_slice(&(payload.len() as u32 + 4).to_le_bytes());
    b.extend(vec![0u8; 0x40]);
    b.extend(payload);
    b.extend((unpacked as u32).to_le_bytes());
    b
}

#[test]
fn every_payload_compression() {
    use std::io::Write;
    let (syms, raw) = sample_image();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw).unwrap();
    let gz = gz.finish().unwrap();
    let zst = zstd::encode_all(&raw[..], 3).unwrap();
    let mut xz = Vec::new();
    xz2::read::XzEncoder::new(&raw[..], 1)
        .read_to_end(&mut xz)
        .unwrap();
    let lzma_opts = xz2::stream::LzmaOptions::new_preset(1).unwrap();
    let lzma_stream = xz2::stream::Stream::new_lzma_encoder(&lzma_opts).unwrap();
    let mut lzma = Vec::new();
    xz2::read::XzEncoder::new_stream(&raw[..], lzma_stream)
        .read_to_end(&mut lzma)
        .unwrap();
    // lz4 -l: the magic, then (size, block) pairs.
    let mut lz4 = 0x184c_2102u32.to_le_bytes().to_vec();
    for chunk in raw.chunks(5000) {
        let block = lz4_flex::block::compress(chunk);
        lz4.extend((block.len() as u32).to_le_bytes());
        lz4.extend(block);
    }
    for (name, payload) in [
        ("gzip", gz),
        ("zstd", zst),
        ("xz", xz.clone()),
        ("lzma", lzma),
        ("lz4", lz4),
    ] {
        let got = kallsyms_from_image(&bzimage(&payload, raw.len()))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got.container, Container::BzImage { compression: name });
        assert_eq!(got.symbols.len(), syms.len(), "{name}");
        assert_eq!(got.symbols[100].name, syms[100].2, "{name}");
    }
    // A whole compressed file.
    let got = kallsyms_from_image(&xz).unwrap();
    assert_eq!(got.container, Container::Compressed { compression: "xz" });
    // A truncated payload: the decompressor's complaint, named.
    let cut = bzimage(&zstd::encode_all(&raw[..], 3).unwrap()[..200], raw.len());
    let e = kallsyms_from_image(&cut).unwrap_err();
    assert!(matches!(e, Error::Decompress { format: "zstd", .. }), "{e}");
    // bzip2 and lzo kernels exist; ksym says it does not read them.
    let e = kallsyms_from_image(&bzimage(b"BZh91AY&SY", 100)).unwrap_err();
    assert!(e.to_string().contains("not supported"), "{e}");
}

#[test]
fn place_relative_offsets_with_elf_addresses() {
    // 7.0: each offset relative to its own address. Rewrite the offsets
    // of a synthetic 6.4-layout image and give it an ELF-like mapping.
    let syms: Vec<(u64, u8, String)> = (0..600)
        .map(|i| (0xffff_ffff_8100_0000 + i * 0x20, b't', format!("f{i}")))
        .collect();
    let refs: Vec<(u64, u8, &str)> = syms.iter().map(|(a, k, n)| (*a, *k, n.as_str())).collect();
    let mut img = synthetic(&refs, true);
    let rd = Rd { d: &img, be: false };
    let idx = token_indexes(rd, (0, img.len()))[0].0;
    let at = idx + 512;
    let va = 0xffff_ffff_8200_0000u64;
    for (i, (a, _, _)) in syms.iter().enumerate() {
        let place = va + at as u64 + 4 * i as u64;
        let off = a.wrapping_sub(place) as i64 as i32;
        img[at + 4 * i..at + 4 * i + 4].copy_from_slice(&off.to_le_bytes());
    }
    // No relative base after them.
    let base_at = align_up(at + 4 * syms.len(), 8);
    img[base_at..base_at + 8].copy_from_slice(&[0xcc; 8]);
    let elf = ElfInfo {
        sections: vec![(0, img.len(), va)],
        span: Some((0xffff_ffff_8100_0000, va + img.len() as u64)),
        ptr_size: 8,
        big_endian: false,
        build_id: None,
        rodata: None,
    };
    let found = find_tables(&img, Some(&elf)).unwrap();
    assert_eq!(found.encoding, AddressEncoding::PlaceRelative);
    let got: Vec<u64> = found.symbols.iter().map(|s| s.addr).collect();
    let want: Vec<u64> = syms.iter().map(|s| s.0).collect();
    assert_eq!(got, want);
}

#[test]
fn big_endian_raw_kernel() {
    // The same tables with every word big-endian (s390, ppc64, ...).
    let syms = sample(300);
    let refs: Vec<(u64, u8, &str)> = syms.iter().map(|(a, k, n)| (*a, *k, n.as_str())).collect();
    let le = synthetic(&refs, false);
    let rd = Rd { d: &le, be: false };
    let found = find_tables(&le, None).unwrap();
    let l = found.layout;
    let mut be = le.clone();
    let mut swap = |at: usize, width: usize| be[at..at + width].reverse();
    // offsets + base, count, markers, token index.
    for i in 0..syms.len() {
        swap(l.addresses + 4 * i, 4);
    }
    swap(align_up(l.addresses + 4 * syms.len(), 8), 8);
    swap(l.num_syms, 4);
    for i in 0..syms.len().div_ceil(256) {
        swap(l.markers + 4 * i, 4);
    }
    for i in 0..256 {
        swap(l.token_index + 2 * i, 2);
    }
    let _ = rd;
    let got = find_tables(&be, None).unwrap();
    assert!(got.layout.big_endian);
    assert_eq!(got.symbols.len(), syms.len());
    assert_eq!(got.symbols.last().unwrap().addr, syms.last().unwrap().0);
}

#[test]
fn one_byte_lengths_of_old_kernels() {
    // Before 6.1 a length byte of 0x80 or more was a length, not the
    // first of two bytes.
    let mut syms = sample(400);
    syms[50].2 = "y".repeat(140);
    let refs: Vec<(u64, u8, &str)> = syms.iter().map(|(a, k, n)| (*a, *k, n.as_str())).collect();
    let img = synthetic_with(&refs, false, false, false);
    let got = kallsyms_from_image(&img).unwrap();
    assert!(!got.layout.long_lengths);
    assert_eq!(got.symbols[50].name, syms[50].2);
}

#[test]
fn kallsyms_addresses_and_long_markers_of_4_x_kernels() {
    let syms: Vec<(u64, u8, String)> = sample(900).into_iter().filter(|s| s.1 != b'A').collect();
    let refs: Vec<(u64, u8, &str)> = syms.iter().map(|(a, k, n)| (*a, *k, n.as_str())).collect();
    let img = synthetic_with(&refs, false, false, true);
    let got = kallsyms_from_image(&img).unwrap();
    assert_eq!(got.encoding, AddressEncoding::Absolute);
    let addrs: Vec<u64> = got.symbols.iter().map(|s| s.addr).collect();
    let want: Vec<u64> = syms.iter().map(|s| s.0).collect();
    assert_eq!(addrs, want);
    assert_eq!(got.symbols[899].name, syms[899].2);
}

#[test]
fn garbage_is_a_clear_error() {
    let mut x = 0x1234_5678u32;
    let bytes: Vec<u8> = (0..200_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    let e = kallsyms_from_image(&bytes).unwrap_err().to_string();
    assert!(e.contains("no kallsyms tables"), "{e}");
    let e = kallsyms_from_image(&[]).unwrap_err().to_string();
    assert!(e.contains("no kallsyms tables"), "{e}");
}

#[test]
fn truncated_bzimage_header() {
    let mut b = vec![0u8; 0x1000];
    b[0x1f1] = 4;
    b[0x202..0x206].copy_from_slice(b"HdrS");
    b[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
    b[0x248..0x24c].copy_from_slice(&0x100u32.to_le_bytes());
    b[0x24c..0x250].copy_from_slice(&0x10_0000u32.to_le_bytes());
    let e = kallsyms_from_image(&b).unwrap_err().to_string();
    assert!(e.contains("truncated or damaged bzImage"), "{e}");
}

#[test]
fn a_decoder_asking_for_a_huge_dictionary_is_refused() {
    // An lzma header whose dictionary is nearly 4 GiB (found by the image
    // fuzz target: the decoder allocated it): refused by the memory limit.
    let mut b = vec![0x5d, 0, 0, 0xff, 0xff];
    b.extend([0xff; 8]); // size unknown
    b.extend([0u8; 64]);
    let e = kallsyms_from_image(&b).unwrap_err().to_string();
    assert!(e.contains("lzma") && e.contains("emory"), "{e}");
}
