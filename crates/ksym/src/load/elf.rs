//! ELF files to tables: a vmlinux's `.symtab` as a table of its own, and
//! the `.ko` files `modules.dep` names, read and attached to a table.

use std::path::Path;

use crate::error::{Error, Result};
use crate::parse::elf::{modules_dep_paths, read_elf, ElfSymbol, ElfSymbols};
use crate::table::elf_sizes::{apply_modules, vmlinux_sizes, ModuleMatch};
use crate::table::{SymbolTable, TableBuilder, TableInfo};

/// A vmlinux's `.symtab` as a table, at link-time addresses, with real sizes.
pub fn vmlinux_table(elf: &ElfSymbols) -> Result<SymbolTable> {
    if elf.symbols.is_empty() {
        return Err(Error::Elf {
            source_name: elf.source.clone(),
            reason: "no symbol table (a stripped vmlinux?)".to_string(),
        });
    }
    let mut b = TableBuilder::new();
    b.reserve(elf.symbols.len(), elf.symbols.len() * 24);
    let mut by_addr: Vec<&ElfSymbol> = elf.symbols.iter().collect();
    // The kernel's kallsyms lists the core sorted by address (`nm -n`).
    by_addr.sort_by_key(|s| s.value);
    for s in by_addr {
        if s.kind == 'n' || s.kind == 'N' {
            continue; // not allocated: debugging sections
        }
        b.add(s.value, s.kind, &s.name, None);
    }
    let table = b.build(TableInfo {
        source: elf.source.clone(),
        ..TableInfo::default()
    })?;
    let sizes = vmlinux_sizes(&table, elf);
    Ok(table.with_real_sizes(&sizes))
}

/// Reads a vmlinux (plain or compressed) as a table at link-time addresses.
pub fn load_vmlinux(path: &Path) -> Result<SymbolTable> {
    vmlinux_table(&read_elf(path)?)
}

/// The `.ko` files of the table's loadable modules found through
/// `DIR/modules.dep`, read and applied. Files that cannot be read are
/// skipped (and named in the returned list with the error).
pub fn apply_modules_dep(
    table: SymbolTable,
    dir: &Path,
) -> Result<(SymbolTable, Vec<ModuleMatch>, Vec<String>)> {
    let loadable = table.loadable_module_names();
    let paths = modules_dep_paths(dir, loadable.iter().map(String::as_str))?;
    let mut kos = Vec::new();
    let mut errors = Vec::new();
    for (module, path) in paths {
        match read_elf(&path) {
            Ok(mut elf) => {
                elf.module_name = Some(module);
                kos.push(elf);
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    let (table, reports) = apply_modules(table, &kos);
    Ok((table, reports, errors))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::elf::*;

    #[test]
    fn module_names_from_paths() {
        for (p, n) in [
            ("kernel/fs/ext4/ext4.ko.xz", "ext4"),
            ("/x/virtio-net.ko", "virtio_net"),
            ("nvme.ko.zst", "nvme"),
            ("a/b/snd-hda-intel.ko.gz", "snd_hda_intel"),
        ] {
            assert_eq!(module_name_from_path(Path::new(p)), n);
        }
    }

    /// A minimal x86_64 `ET_EXEC` vmlinux: `.text` at the default link
    /// address, a per-cpu section at 0, a symbol table.
    fn tiny_vmlinux() -> Vec<u8> {
        const TEXT: u64 = 0xffff_ffff_8100_0000;
        let shstr = b"\0.text\0.data..percpu\0.symtab\0.strtab\0.shstrtab\0";
        let sh_name = |n: &str| {
            let pat = format!("\0{n}\0");
            shstr
                .windows(pat.len())
                .position(|w| w == pat.as_bytes())
                .unwrap() as u32
                + 1
        };
        // (name, info (bind << 4 | type), shndx, value, size); locals first.
        let syms: [(&str, u8, u16, u64, u64); 8] = [
            ("", 0, 0, 0, 0),
            ("local_fn", 0x02, 1, TEXT + 0x40, 0x20),
            ("pad_label", 0x00, 1, TEXT + 0x80, 0),
            ("_text", 0x10, 1, TEXT, 0),
            ("startup_64", 0x12, 1, TEXT, 0x30),
            ("weak_fn", 0x22, 1, TEXT + 0xc0, 0x10),
            ("_etext", 0x10, 1, TEXT + 0x100, 0),
            ("fixed_percpu_data", 0x11, 2, 0, 0x28),
        ];
        let mut strtab = vec![0u8];
        let mut symtab = Vec::new();
        for (name, info, shndx, value, size) in syms {
            let off = if name.is_empty() {
                0
            } else {
                strtab.len() as u32
            };
            if !name.is_empty() {
                strtab.extend_from_slice(name.as_bytes());
                strtab.push(0);
            }
            symtab.extend(off.to_le_bytes());
            symtab.push(info);
            symtab.push(0);
            symtab.extend(shndx.to_le_bytes());
            symtab.extend(value.to_le_bytes());
            symtab.extend(size.to_le_bytes());
        }
        let mut out = vec![0u8; 64];
        let place = |out: &mut Vec<u8>, data: &[u8]| {
            while !out.len().is_multiple_of(8) {
                out.push(0);
            }
            let at = out.len() as u64;
            out.extend_from_slice(data);
            at
        };
        let text_off = place(&mut out, &[0xcc; 0x100]);
        let pcpu_off = place(&mut out, &[0; 0x40]);
        let sym_off = place(&mut out, &symtab);
        let str_off = place(&mut out, &strtab);
        let shstr_off = place(&mut out, shstr);
        let sh_off = place(&mut out, &[]);
        // (name, type, flags, addr, offset, size, link, info, align, entsize)
        #[allow(clippy::type_complexity)]
        let headers: [(u32, u32, u64, u64, u64, u64, u32, u32, u64, u64); 6] = [
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
            (sh_name(".text"), 1, 0x6, TEXT, text_off, 0x100, 0, 0, 16, 0),
            (
                sh_name(".data..percpu"),
                1,
                0x3,
                0,
                pcpu_off,
                0x40,
                0,
                0,
                64,
                0,
            ),
            (
                sh_name(".symtab"),
                2,
                0,
                0,
                sym_off,
                symtab.len() as u64,
                4,
                3,
                8,
                24,
            ),
            (
                sh_name(".strtab"),
                3,
                0,
                0,
                str_off,
                strtab.len() as u64,
                0,
                0,
                1,
                0,
            ),
            (
                sh_name(".shstrtab"),
                3,
                0,
                0,
                shstr_off,
                shstr.len() as u64,
                0,
                0,
                1,
                0,
            ),
        ];
        for (name, ty, flags, addr, off, size, link, info, align, entsize) in headers {
            out.extend(name.to_le_bytes());
            out.extend(ty.to_le_bytes());
            out.extend(flags.to_le_bytes());
            out.extend(addr.to_le_bytes());
            out.extend(off.to_le_bytes());
            out.extend(size.to_le_bytes());
            out.extend(link.to_le_bytes());
            out.extend(info.to_le_bytes());
            out.extend(align.to_le_bytes());
            out.extend(entsize.to_le_bytes());
        }
        out[..4].copy_from_slice(b"\x7fELF");
        out[4] = 2; // 64-bit
        out[5] = 1; // little-endian
        out[6] = 1;
        out[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        out[18..20].copy_from_slice(&62u16.to_le_bytes()); // x86_64
        out[20..24].copy_from_slice(&1u32.to_le_bytes());
        out[40..48].copy_from_slice(&sh_off.to_le_bytes());
        out[52..54].copy_from_slice(&64u16.to_le_bytes());
        out[54..56].copy_from_slice(&56u16.to_le_bytes());
        out[58..60].copy_from_slice(&64u16.to_le_bytes());
        out[60..62].copy_from_slice(&6u16.to_le_bytes());
        out[62..64].copy_from_slice(&5u16.to_le_bytes());
        out
    }

    #[test]
    fn vmlinux_symtab_as_a_table_and_as_sizes() {
        let elf = parse_elf("vmlinux", &tiny_vmlinux()).unwrap();
        assert!(!elf.relocatable);
        let kinds: Vec<(&str, char)> = elf
            .symbols
            .iter()
            .map(|s| (s.name.as_str(), s.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("local_fn", 't'),
                ("pad_label", 't'),
                ("_text", 'T'),
                ("startup_64", 'T'),
                ("weak_fn", 'W'),
                ("_etext", 'T'),
                ("fixed_percpu_data", 'A'),
            ]
        );
        let t = vmlinux_table(&elf).unwrap();
        let s = t.lookup(0xffffffff81000050).unwrap();
        assert_eq!(s.to_string(), "local_fn+0x10/0x20");
        assert!(t.lookup(0xffffffff81000060).is_none(), "past local_fn");
        // No size for the label: up to the next symbol.
        assert_eq!(t.lookup(0xffffffff81000090).unwrap().name, "pad_label");
        assert_eq!(
            t.lookup(0xffffffff81000010).unwrap().to_string(),
            "_text+0x10/0x30"
        );
        assert!(t.lookup(0xffffffff81000035).is_none());
        assert_eq!(t.find("fixed_percpu_data").next().unwrap().kind, 'A');
        assert!(
            t.lookup(0x10).is_none(),
            "per-cpu symbols answer no address"
        );

        // The same vmlinux gives sizes to a KASLR-slid kallsyms.
        let text = "\
ffffffff9b000000 T _text
ffffffff9b000000 T startup_64
ffffffff9b000040 t local_fn
ffffffff9b000080 t pad_label
ffffffff9b0000c0 W weak_fn
ffffffff9b000100 T _etext
";
        let k = crate::parse_bytes("k", text.as_bytes(), &Default::default()).unwrap();
        assert_eq!(k.lookup(0xffffffff9b000070).unwrap().name, "local_fn");
        let sizes = vmlinux_sizes(&k, &elf);
        assert_eq!(sizes.len(), 3, "{sizes:?}");
        let k = k.with_real_sizes(&sizes);
        assert!(k.lookup(0xffffffff9b000070).is_none());
        assert_eq!(
            k.lookup(0xffffffff9b0000c8).unwrap().to_string(),
            "weak_fn+0x8/0x10"
        );
    }

    #[cfg(feature = "compression")]
    #[test]
    fn compressed_files_read_the_same() {
        use std::io::Write;
        let raw = tiny_vmlinux();
        let plain = parse_elf("x", &raw).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&raw).unwrap();
        let mut xz = xz2::write::XzEncoder::new(Vec::new(), 1);
        xz.write_all(&raw).unwrap();
        let dir = std::env::temp_dir().join(format!("ksym-elf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in [
            ("m.ko", raw.clone()),
            ("m.ko.gz", gz.finish().unwrap()),
            ("m.ko.zst", zstd::encode_all(&raw[..], 1).unwrap()),
            ("m.ko.xz", xz.finish().unwrap()),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, bytes).unwrap();
            let read = read_elf(&path).unwrap();
            assert_eq!(read.symbols, plain.symbols, "{name}");
            assert_eq!(read.sections, plain.sections, "{name}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn not_elf_is_a_clear_error() {
        let e = parse_elf("x", b"hello").unwrap_err().to_string();
        assert!(e.contains("x: not a usable ELF"), "{e}");
    }
}
