//! The `ksym` command: a thin layer of argument parsing and printing over the
//! `ksym` library, where all the logic lives.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use clap::Parser;

mod cli;
mod commands;
mod lines;
mod source;

use cli::{Cli, Command, SnapshotCommand};
use lines::Lines;

fn main() -> ExitCode {
    if let Some(flavour) = std::env::args()
        .next()
        .and_then(|argv0| commands::addr2line::called_as(&argv0))
    {
        return multi_call(flavour);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e, "ksym"),
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ksym: {e}");
            ExitCode::from(1)
        }
    }
}

/// Run under the name `addr2line` or `llvm-addr2line`: that command.
fn multi_call(flavour: ksym::lines::Flavour) -> ExitCode {
    let args = match <commands::addr2line::MultiCall as Parser>::try_parse() {
        Ok(parsed) => parsed,
        Err(e) => return usage_error(e, "addr2line"),
    };
    match commands::addr2line::run(&args.args, flavour) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("addr2line: {e}");
            ExitCode::from(1)
        }
    }
}

/// clap's own messages in the voice of every other error: `ksym: ...` (or
/// `addr2line: ...`, run under that name) on
/// standard error and exit status 2 (help and version go to standard output
/// with status 0, as clap prints them).
fn usage_error(e: clap::Error, program: &str) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    let text = e.render().to_string();
    let text = text.strip_prefix("error: ").unwrap_or(&text);
    eprint!("{program}: {text}");
    ExitCode::from(2)
}

type CliResult<T> = Result<T, Box<dyn std::error::Error>>;

fn run(cli: Cli) -> CliResult<ExitCode> {
    if let Command::Snapshot(SnapshotCommand::Check { file }) = &cli.command {
        return commands::snapshot::check(file);
    }
    if let (Command::LineTable { quiet }, Some(vmlinux)) = (&cli.command, &cli.source.vmlinux) {
        return commands::line_table::run(vmlinux, *quiet, &mut std::io::stdout().lock());
    }
    #[cfg(feature = "store")]
    if let Command::Snapshot(SnapshotCommand::Pull {
        boot_id,
        file,
        store,
    }) = &cli.command
    {
        return commands::store::pull(boot_id, file, store.as_deref());
    }
    if let Command::Addr2line(args) = &cli.command {
        return commands::addr2line::run(args, ksym::lines::Flavour::Gnu);
    }
    #[cfg(feature = "serve")]
    if let Command::Serve(args) = &cli.command {
        return commands::serve::run(args);
    }
    let loaded = source::load(&cli.source)?;
    let table = &loaded.table;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let code = match &cli.command {
        Command::Addr {
            addrs,
            json,
            absolute,
            lines,
        } => {
            let mut lines = lines.then(|| Lines::new(&cli.source, &loaded, &cli.source.debuginfod));
            commands::addr::run(table, addrs, *json, *absolute, lines.as_mut(), &mut out)?
        }
        Command::Name { name, module, json } => {
            commands::name::run(table, name, module.as_deref(), *json, &mut out)?
        }
        Command::Resolve { refs } => commands::resolve::run(table, refs, &mut out)?,
        Command::Info => commands::info::run(&cli.source, &loaded, &mut out)?,
        Command::Dups { json } => commands::dups::run(table, *json, &mut out)?,
        Command::Snapshot(SnapshotCommand::Save { output }) => {
            commands::snapshot::save(&loaded, output, &mut out)?
        }
        Command::Snapshot(SnapshotCommand::Check { .. }) => unreachable!("handled above"),
        Command::LineTable { quiet } => {
            let lines = Lines::new(&cli.source, &loaded, &cli.source.debuginfod);
            commands::line_table::run(&lines.vmlinux_path()?, *quiet, &mut out)?
        }
        #[cfg(feature = "store")]
        Command::Snapshot(SnapshotCommand::Push { store, json }) => {
            commands::store::push(&loaded, store.as_deref(), *json, &mut out)?
        }
        #[cfg(feature = "store")]
        Command::Snapshot(SnapshotCommand::Pull { .. }) => unreachable!("handled above"),
        #[cfg(feature = "serve")]
        Command::Serve(_) => unreachable!("handled above"),
        #[cfg(feature = "pprof")]
        Command::Pprof {
            input,
            output,
            lines,
        } => {
            let mut lines = lines.then(|| Lines::new(&cli.source, &loaded, &cli.source.debuginfod));
            commands::pprof::run(table, input, output, lines.as_mut(), &mut out)?
        }
        Command::Decode {
            file,
            json,
            release,
            lines,
        } => {
            let mut lines = lines.then(|| Lines::new(&cli.source, &loaded, &cli.source.debuginfod));
            let file = file.as_deref();
            commands::decode::run(
                &loaded,
                file,
                *json,
                release.clone(),
                lines.as_mut(),
                &mut out,
            )?
        }
        Command::Annotate {
            file,
            format,
            lines,
        } => {
            let mut lines = lines.then(|| Lines::new(&cli.source, &loaded, &cli.source.debuginfod));
            commands::annotate::run(table, file.as_deref(), *format, lines.as_mut(), &mut out)?
        }
        // The dump flushes `out` itself, and a closed pipe must not be
        // flushed again: return its answer as it is.
        Command::Addr2line(_) => unreachable!("handled above"),
        Command::Dump { format } => return commands::dump::run(table, *format, &mut out),
    };
    out.flush()?;
    Ok(code)
}
