//! Kernel images: the kallsyms tables decoded from real Debian kernels
//! (../shared/data), compared line for line with what the kernel itself
//! shows, and images that are not kernels, or damaged ones, refused clearly.
//!
//! The 6.1 image is not in ../shared/data: `bash scripts/fetch-test-images.sh`
//! puts it in target/test-images/ (the test says so and skips without it).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ksym::dump::{self, DumpFormat};
use ksym::image::{kallsyms_from_image, read_image, AddressEncoding, Container};
use ksym::{Error, LoadOptions};

fn data(rel: &str) -> PathBuf {
    ksym_testdata::data_dir().join(rel)
}

fn xz_text(path: &Path) -> String {
    let mut s = String::new();
    xz2::read::XzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut s)
        .unwrap();
    s
}

fn first_diff(want: &str, got: &str) -> String {
    for (i, (w, g)) in want.lines().zip(got.lines()).enumerate() {
        if w != g {
            return format!("line {}: want {w:?}, got {g:?}", i + 1);
        }
    }
    format!(
        "{} lines wanted, {} got",
        want.lines().count(),
        got.lines().count()
    )
}

#[test]
fn debian_6_12_vmlinuz_is_its_system_map() {
    let vmlinuz = data("debian-6.12.117/vmlinuz");
    let t = Instant::now();
    let image = read_image(&vmlinuz).unwrap();
    let decoded = t.elapsed();
    let table = image
        .to_table(&vmlinuz.display().to_string(), &LoadOptions::default(), 0)
        .unwrap();
    println!(
        "6.12 vmlinuz: {} symbols, decoded in {decoded:?}, table in {:?} more",
        image.symbols.len(),
        t.elapsed() - decoded
    );
    assert_eq!(
        image.container,
        Container::BzImage {
            compression: "zstd"
        }
    );
    assert_eq!(
        image.encoding,
        AddressEncoding::AbsolutePercpu {
            base: 0xffff_ffff_8100_0000
        }
    );
    assert_eq!(
        image.build_id.as_deref(),
        Some("764949bbe8b7a9241512fbf3b0d66d0ba34686a8")
    );
    assert_eq!(image.release(), Some("6.12.117+deb12-amd64"));
    assert_eq!(image.text_address(), Some(0xffff_ffff_8100_0000));

    let want = xz_text(&data("debian-6.12.117/vmlinuz-kallsyms.map.xz"));
    // The decoder's own order...
    let mut direct = String::new();
    for s in &image.symbols {
        direct += &format!("{:016x} {} {}\n", s.addr, s.kind as char, s.name);
    }
    assert!(direct == want, "decoded: {}", first_diff(&want, &direct));
    // ...and the table's, which the CLI's `dump --format system-map` prints.
    let mut out = Vec::new();
    dump::write(&table, DumpFormat::SystemMap, &mut out).unwrap();
    let got = String::from_utf8(out).unwrap();
    assert!(got == want, "dumped: {}", first_diff(&want, &got));
    assert_eq!(table.len(), 163_205);
}

#[test]
fn debian_6_12_image_matches_its_kallsyms_after_the_slide() {
    // The core lines of kallsyms.xz are the same tables at a slide of
    // +0x1a000000 (per-cpu `A` symbols unmoved).
    let image = read_image(&data("debian-6.12.117/vmlinuz")).unwrap();
    let table = image
        .to_table("vmlinuz", &LoadOptions::default(), 0x1a00_0000)
        .unwrap();
    let live = xz_text(&data("debian-6.12.117/kallsyms.xz"));
    let core: String = live
        .lines()
        .filter(|l| !l.contains('['))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut out = Vec::new();
    dump::write(&table, DumpFormat::Kallsyms, &mut out).unwrap();
    let got = String::from_utf8(out).unwrap();
    assert!(got == core, "{}", first_diff(&core, &got));
}

fn test_image(name: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("KSYM_TEST_IMAGES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-images"));
    let path = dir.join(name);
    if path.is_file() {
        Some(path)
    } else {
        println!(
            "SKIPPED: {} is missing; `bash scripts/fetch-test-images.sh` fetches it \
             (or set KSYM_TEST_IMAGES to a directory holding it)",
            path.display()
        );
        None
    }
}

#[test]
fn debian_6_1_vmlinuz_matches_its_kallsyms() {
    // 6.1: xz payload, the tables in their pre-6.4 order (offsets first).
    let Some(vmlinuz) = test_image("vmlinuz-6.1.0-56-amd64") else {
        return;
    };
    let t = Instant::now();
    let image = read_image(&vmlinuz).unwrap();
    println!(
        "6.1 vmlinuz: {} symbols in {:?}",
        image.symbols.len(),
        t.elapsed()
    );
    assert_eq!(image.container, Container::BzImage { compression: "xz" });
    assert!(image.layout.addresses < image.layout.num_syms);
    let live = xz_text(&data("debian-6.1.0-56/kallsyms.xz"));
    let mut want = String::new();
    for line in live.lines().filter(|l| !l.contains('[')) {
        let mut f = line.split(' ');
        let (a, k, n) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
        let mut a = u64::from_str_radix(a, 16).unwrap();
        if k != "A" {
            a -= 0x1a00_0000;
        }
        want += &format!("{a:016x} {k} {n}\n");
    }
    let mut got = String::new();
    for s in &image.symbols {
        got += &format!("{:016x} {} {}\n", s.addr, s.kind as char, s.name);
    }
    assert!(got == want, "{}", first_diff(&want, &got));
}

#[test]
fn a_module_is_not_a_kernel_image() {
    let ko = data("debian-6.12.117/ko");
    let first = std::fs::read_dir(&ko)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".ko.xz"))
        .unwrap();
    let e = ksym::image::read_image(&first).unwrap_err();
    assert!(matches!(e, Error::NotKernelImage { .. }), "{e}");
    let text = e.to_string();
    assert!(text.contains("kernel module"), "{text}");
}

#[test]
fn text_and_random_bytes_are_not_kernel_images() {
    let e = ksym::image::read_image(&data("debian-6.12.117/proc-modules")).unwrap_err();
    assert!(e.to_string().contains("no kallsyms tables"), "{e}");
    let mut x = 88172645463325252u64;
    let random: Vec<u8> = (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let e = kallsyms_from_image(&random).unwrap_err();
    assert!(e.to_string().contains("no kallsyms tables"), "{e}");
    let e = ksym::image::read_image(Path::new("/nonexistent/vmlinuz")).unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e}");
}

#[test]
fn damaged_vmlinuz_is_a_clear_error() {
    let bytes = std::fs::read(data("debian-6.12.117/vmlinuz")).unwrap();
    // Cut in half: the header points past the end.
    let e = kallsyms_from_image(&bytes[..bytes.len() / 2]).unwrap_err();
    assert!(
        e.to_string().contains("truncated or damaged bzImage"),
        "{e}"
    );
    // The payload overwritten in its middle: zstd notices.
    let mut bad = bytes.clone();
    let mid = bad.len() / 2;
    for b in &mut bad[mid..mid + 4096] {
        *b = 0x55;
    }
    let e = kallsyms_from_image(&bad).unwrap_err();
    assert!(matches!(e, Error::Decompress { format: "zstd", .. }), "{e}");
    // Only the setup code: the header names a payload that is not there.
    let e = kallsyms_from_image(&bytes[..0x5000]).unwrap_err();
    assert!(
        e.to_string().contains("truncated or damaged bzImage"),
        "{e}"
    );
}

#[test]
fn slide_from_the_first_lines_of_kallsyms() {
    // `_text` is line 392 of the 6.12 kallsyms: only the head is read.
    let live = xz_text(&data("debian-6.12.117/kallsyms.xz"));
    let dir = std::env::temp_dir().join(format!("ksym-image-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let head = dir.join("kallsyms-head");
    let lines: Vec<&str> = live.lines().take(500).collect();
    std::fs::write(&head, lines.join("\n") + "\n").unwrap();
    let text = ksym::image::text_address_in(&head).unwrap();
    assert_eq!(text, 0xffff_ffff_9b00_0000);
    // x86 lists `_stext` first, at `_text`'s address: `_text` still anchors.
    assert_eq!(ksym::image::text_anchor_in(&head).unwrap(), ("_text", text));
    let image = read_image(&data("debian-6.12.117/vmlinuz")).unwrap();
    assert_eq!(text - image.text_address().unwrap(), 0x1a00_0000);
    // Hidden addresses say so; no `_text` at all says so.
    let zeroed: Vec<String> = lines
        .iter()
        .map(|l| format!("0000000000000000{}", &l[16..]))
        .collect();
    std::fs::write(&head, zeroed.join("\n") + "\n").unwrap();
    let e = ksym::image::text_address_in(&head).unwrap_err();
    assert!(matches!(e, Error::Redacted { .. }), "{e}");
    std::fs::write(&head, lines[..100].join("\n") + "\n").unwrap();
    let e = ksym::image::text_address_in(&head).unwrap_err();
    assert!(e.to_string().contains("no `_text`"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn live_text_when_readable() {
    match ksym::image::live_text_address() {
        Ok(text) => assert_ne!(text, 0),
        Err(e) => println!("SKIPPED: the live _text is not readable here: {e}"),
    }
}

/// The arm64 `Image`s (Debian's arm64 `vmlinuz`) whose relative base is a
/// boot-time relocation (0 in the file), decoded at link time: every
/// symbol, slid by the boot's KASLR offset, is the core part of that boot's
/// `/proc/kallsyms` line for line (address, type, name, order).
#[test]
fn arm64_images_are_their_kallsyms_after_the_slide() {
    // (folder, link-time `_stext`, KASLR offset from its panic.txt)
    let boots = [
        (
            "debian-6.1.0-57-cloud-arm64",
            0xffff_8000_0801_0000u64,
            0x55fb_d560_0000u64,
        ),
        (
            "debian-6.12.118-cloud-arm64",
            0xffff_8000_8001_0000,
            0x3066_f1a0_0000,
        ),
    ];
    for (folder, stext, slide) in boots {
        let image = read_image(&data(&format!("{folder}/vmlinuz"))).unwrap();
        assert_eq!(image.container, Container::Raw, "{folder}");
        assert!(
            matches!(image.encoding, AddressEncoding::Relative { base } if base != 0),
            "{folder}: {:?}",
            image.encoding
        );
        let first = |name: &str| {
            image
                .symbols
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.addr)
        };
        assert_eq!(first("_stext"), Some(stext), "{folder}");
        // The build-id of its own notes, not of the vDSOs it carries.
        let notes = std::fs::read(data(&format!("{folder}/notes.bin"))).unwrap();
        let id = ksym::parse::notes::gnu_build_id_in(&notes, true).unwrap();
        assert_eq!(
            image.build_id,
            Some(ksym::parse::notes::hex(&id)),
            "{folder}"
        );
        let live = xz_text(&data(&format!("{folder}/kallsyms.xz")));
        let want: Vec<&str> = live.lines().filter(|l| !l.ends_with(']')).collect();
        let got: Vec<String> = image
            .symbols
            .iter()
            .map(|s| format!("{:016x} {} {}", s.addr + slide, s.kind as char, s.name))
            .collect();
        let (want, got) = (want.join("\n"), got.join("\n"));
        assert!(want == got, "{folder}: {}", first_diff(&want, &got));
        // The slide from the head of that kallsyms: by `_text` where it is
        // listed (6.12), else by `_stext` (6.1 has no `_text` line).
        let head =
            std::env::temp_dir().join(format!("ksym-anchor-{}-{folder}", std::process::id()));
        std::fs::write(
            &head,
            live.lines().take(5000).collect::<Vec<_>>().join("\n"),
        )
        .unwrap();
        let (name, at) = ksym::image::text_anchor_in(&head).unwrap();
        assert_eq!(
            at - image.address_of(name).unwrap(),
            slide,
            "{folder}: by {name}"
        );
        let by_text = ksym::image::text_address_in(&head);
        std::fs::remove_file(&head).unwrap();
        match folder {
            "debian-6.1.0-57-cloud-arm64" => {
                assert_eq!(name, "_stext");
                let e = by_text.unwrap_err().to_string();
                assert!(e.contains("only `_stext`"), "{e}");
            }
            _ => assert_eq!((name, by_text.unwrap()), ("_text", at)),
        }
    }
}

/// An EFI zboot image (what Fedora and others ship for arm64): the 6.12
/// arm64 `Image`, xz-compressed behind a zboot header, decodes to the same
/// symbols as the `Image`; a header that points past the file is refused.
#[test]
fn an_efi_zboot_image_is_its_payload() {
    let raw = std::fs::read(data("debian-6.12.118-cloud-arm64/vmlinuz")).unwrap();
    let mut packed = Vec::new();
    xz2::read::XzEncoder::new(&raw[..], 0)
        .read_to_end(&mut packed)
        .unwrap();
    let payload_at = 0x1000usize;
    let mut zboot = vec![0u8; payload_at];
    zboot[..2].copy_from_slice(b"MZ");
    zboot[4..8].copy_from_slice(b"zimg");
    zboot[8..12].copy_from_slice(&(payload_at as u32).to_le_bytes());
    zboot[12..16].copy_from_slice(&(packed.len() as u32).to_le_bytes());
    zboot[0x18..0x1a].copy_from_slice(b"xz");
    zboot.extend_from_slice(&packed);
    let image = kallsyms_from_image(&zboot).unwrap();
    assert_eq!(image.container, Container::Zboot { compression: "xz" });
    let want = kallsyms_from_image(&raw).unwrap();
    assert_eq!(image.symbols, want.symbols);
    assert_eq!(image.encoding, want.encoding);
    assert_eq!(image.build_id, want.build_id);
    let cut = &zboot[..zboot.len() - 1];
    let e = kallsyms_from_image(cut).unwrap_err();
    assert!(
        e.to_string().contains("truncated or damaged EFI zboot"),
        "{e}"
    );
}
