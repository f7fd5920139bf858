//! `ksym info`: where the symbols came from (source, format, counts, memory,
//! built-in modules, image, snapshot, cache) and, live, what the host offers.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use ksym::cache::CacheOutcome;
use ksym::{HostKernel, SymbolTable};

use super::common::print_identity;
use crate::source::{live_modules_dir, Loaded, SourceArgs};
use crate::CliResult;

pub(crate) fn run(cli: &SourceArgs, loaded: &Loaded, out: &mut dyn Write) -> CliResult<ExitCode> {
    let table = &loaded.table;
    let live = cli.kallsyms.is_none() && cli.snapshot.is_none() && cli.image.is_none();
    print_info(out, table, live)?;
    print_builtin(out, cli, table, live)?;
    if let Some(note) = &loaded.image_note {
        writeln!(out, "image:             {note}")?;
    }
    if let Some(identity) = &loaded.identity {
        if !live {
            print_identity(out, identity)?;
        }
    }
    if let Some(outcome) = &loaded.cache {
        let text = match outcome {
            CacheOutcome::Disabled => "off".to_string(),
            CacheOutcome::Hit(p) => format!("hit, mapped {}", p.display()),
            CacheOutcome::Stored(p) => {
                let read = &loaded.table.info().source;
                format!("miss, read {read}, stored {}", p.display())
            }
            CacheOutcome::Unusable(why) => format!("not used: {why}"),
        };
        writeln!(out, "snapshot cache:    {text}")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_info(out: &mut dyn Write, table: &SymbolTable, live: bool) -> std::io::Result<()> {
    let info = table.info();
    let modules: Vec<&str> = table.module_names().collect();
    let repeated = table.repeated_names();
    writeln!(out, "source:            {}", info.source)?;
    writeln!(out, "format:            {}", info.format.describe())?;
    writeln!(out, "symbols:           {}", table.len())?;
    writeln!(
        out,
        "  by address:      {} (the rest are absolute or local labels)",
        table.answering_len()
    )?;
    writeln!(out, "modules:           {}", modules.len())?;
    let map = &table.module_map().modules;
    if !map.is_empty() {
        let count = |f: fn(&ksym::ModuleInfo) -> bool| map.iter().filter(|m| f(m)).count();
        writeln!(
            out,
            "  bounded by:      {} /proc/modules extents, {} text areas from /sys/module sections, {} exact layouts",
            count(|m| m.base.is_some_and(|b| b != 0)),
            count(|m| m.text_area.is_some()),
            count(|m| !m.areas.is_empty()),
        )?;
        writeln!(
            out,
            "  build-ids:       {} from /sys/module notes",
            count(|m| m.build_id.is_some())
        )?;
    }
    writeln!(out, "repeated names:    {}", repeated.len())?;
    writeln!(out, "skipped lines:     {}", info.skipped.count)?;
    for e in &info.skipped.first {
        writeln!(out, "  {e}")?;
    }
    // A table mapped from a snapshot owns (almost) no heap: say so rather
    // than print a misleadingly small figure.
    let heap = table.heap_bytes();
    if heap < table.len() {
        writeln!(
            out,
            "table memory:      mapped from a snapshot ({heap} bytes of heap)"
        )?;
    } else {
        writeln!(
            out,
            "table memory:      {heap} bytes of heap ({:.1} bytes/symbol, name index included once built)",
            heap as f64 / table.len().max(1) as f64
        )?;
    }
    let text = table.find_in(None, "_text").next();
    match text {
        Some(t) => {
            writeln!(out, "_text:             {:#x}", t.start)?;
            match ksym::host::arch_of_text(t.start) {
                Some(arch) => match arch.text_link_addr {
                    Some(link) => {
                        let slide = t.start.wrapping_sub(link) as i64;
                        writeln!(
                            out,
                            "KASLR slide:       {}{:#x} (against {}'s default link address {link:#x})",
                            if slide < 0 { "-" } else { "" },
                            slide.unsigned_abs(),
                            arch.name,
                        )?;
                    }
                    None => writeln!(
                        out,
                        "KASLR slide:       unknown ({}: the link address of `_text` depends \
                         on the build; the kernel prints it in `Kernel Offset:` lines)",
                        arch.name
                    )?,
                },
                None => writeln!(
                    out,
                    "KASLR slide:       unknown (`_text` is in no known kernel range)"
                )?,
            }
        }
        None => writeln!(out, "_text:             not in the symbols")?,
    }
    if !live {
        return Ok(());
    }
    let host = HostKernel::discover();
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".to_string());
    writeln!(out, "kernel release:    {}", show(&host.release))?;
    writeln!(out, "boot id:           {}", show(&host.boot_id))?;
    writeln!(out, "build-id:          {}", show(&host.build_id))?;
    writeln!(
        out,
        "kptr_restrict:     {}",
        host.kptr_restrict
            .map_or("unknown".to_string(), |v| v.to_string())
    )?;
    writeln!(
        out,
        "perf_event_paranoid: {}",
        host.perf_event_paranoid
            .map_or("unknown".to_string(), |v| v.to_string())
    )?;
    writeln!(out, "lockdown:          {}", show(&host.lockdown))?;
    writeln!(
        out,
        "/proc/modules:     {}",
        if host.has_modules {
            "present"
        } else {
            "absent (kernel without loadable modules)"
        }
    )?;
    let path_or = |p: &Option<PathBuf>| {
        p.as_ref()
            .map_or("none".to_string(), |p| p.display().to_string())
    };
    let paths = |v: &[PathBuf]| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    writeln!(out, "BTF:               {}", path_or(&host.btf))?;
    writeln!(out, "vmlinux:           {}", paths(&host.vmlinux))?;
    writeln!(out, "System.map:        {}", paths(&host.system_map))?;
    writeln!(out, "vmlinuz:           {}", path_or(&host.vmlinuz))?;
    for a in host.advice() {
        writeln!(out, "note: {a}")?;
    }
    Ok(())
}

/// Built-in modules (modules.builtin and its .modinfo) and real sizes, for `info`.
fn print_builtin(
    out: &mut dyn Write,
    cli: &SourceArgs,
    table: &SymbolTable,
    live: bool,
) -> CliResult<()> {
    if table.real_size_count() > 0 {
        writeln!(
            out,
            "real sizes:        {} symbols (from ELF symbol tables)",
            table.real_size_count()
        )?;
    }
    let path = match &cli.modules_builtin {
        Some(p) => p.clone(),
        None if live => match live_modules_dir() {
            Some(d) if d.join("modules.builtin").is_file() => d.join("modules.builtin"),
            _ => return Ok(()),
        },
        None => return Ok(()),
    };
    let mods = ksym::builtin::read_builtin_files(&path)?;
    writeln!(
        out,
        "built-in modules:  {} ({})",
        mods.len(),
        path.display()
    )?;
    let mut line = String::new();
    for m in &mods {
        if !line.is_empty() && line.len() + m.name.len() > 76 {
            writeln!(out, "  {}", line.trim_end_matches(", "))?;
            line.clear();
        }
        line.push_str(&m.name);
        line.push_str(", ");
    }
    if !line.is_empty() {
        writeln!(out, "  {}", line.trim_end_matches(", "))?;
    }
    Ok(())
}
