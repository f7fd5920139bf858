//! The `ksym` command: a thin layer of argument parsing and printing over the
//! `ksym` library, where all the logic lives.
//!
//! Two programs run it ([`run_command`]): `ksym`, which hands the
//! subcommands that need the heavy crates (`serve` and `snapshot
//! push`/`pull`: tokio, axum, object_store; `pprof`: prost) to `ksym-full`
//! beside it, as git hands `git foo` to `git-foo`; and `ksym-full`, which
//! runs everything. Linked without them, `ksym` is half the size with a
//! quarter of the relocations: a one-shot `ksym addr` is mostly start-up
//! (README.md has its figures).

use std::io::{BufWriter, Write};
use std::process::ExitCode;

mod args;
mod cli;
mod commands;
mod lines;
mod source;

use cli::{Cli, Command, SnapshotCommand};
use lines::Lines;

/// The command: `FULL` runs every subcommand here; else those in
/// [`needs_full`] go to `ksym-full` (generic, so that `ksym` never links
/// what only they use).
pub fn run_command<const FULL: bool>() -> ExitCode {
    if let Some(flavour) = std::env::args()
        .next()
        .and_then(|argv0| commands::addr2line::called_as(&argv0))
    {
        return multi_call(flavour);
    }
    let cli = match parse_args() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e, "ksym"),
    };
    if !FULL && needs_full(&cli.command) {
        return exec_full();
    }
    match run::<FULL>(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ksym: {e}");
            ExitCode::from(1)
        }
    }
}

/// The subcommands `ksym-full` runs for `ksym`.
fn needs_full(command: &Command) -> bool {
    match command {
        #[cfg(feature = "serve")]
        Command::Serve(_) => true,
        #[cfg(feature = "store")]
        Command::Snapshot(SnapshotCommand::Push { .. } | SnapshotCommand::Pull { .. }) => true,
        #[cfg(feature = "pprof")]
        Command::Pprof { .. } => true,
        _ => false,
    }
}

/// Replaces this process with `ksym-full` (beside this program) and the
/// same arguments; returns only when that cannot be done.
fn exec_full() -> ExitCode {
    use std::os::unix::process::CommandExt;
    let full = std::env::current_exe().map(|exe| exe.with_file_name("ksym-full"));
    let why = match full {
        Ok(full) if full.is_file() => {
            let e = std::process::Command::new(&full)
                .args(std::env::args_os().skip(1))
                .exec();
            format!("cannot run {}: {e}", full.display())
        }
        Ok(full) => format!(
            "{} is not there: this subcommand is in it (cargo build -p ksym-cli builds it)",
            full.display()
        ),
        Err(e) => format!("cannot tell where this program is: {e}"),
    };
    eprintln!("ksym: {why}");
    ExitCode::from(1)
}

/// The command line, parsed. clap's tree of commands and arguments is left
/// for the exit to free: taking it apart cost more than a one-shot `ksym
/// addr` spends on its answer.
/// Only the subcommand asked for is built where that is plain (see
/// `args.rs`).
fn parse_args() -> Result<Cli, clap::Error> {
    use clap::FromArgMatches;
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(cli) = args::quick(&args) {
        return Ok(cli);
    }
    let command = Box::leak(Box::new(args::command_for(&args)));
    let mut matches = command.try_get_matches_from_mut(args)?;
    Cli::from_arg_matches_mut(&mut matches).map_err(|e| e.format(command))
}

/// Run under the name `addr2line` or `llvm-addr2line`: that command.
fn multi_call(flavour: ksym::lines::Flavour) -> ExitCode {
    use clap::Parser;
    let args = match commands::addr2line::MultiCall::try_parse() {
        Ok(parsed) => parsed,
        Err(e) => return usage_error(e, "addr2line"),
    };
    match commands::addr2line::run(&args.args, flavour, true) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("addr2line: {e}");
            ExitCode::from(1)
        }
    }
}

/// clap's own messages in the voice of every other error: `ksym: ...` (or
/// `addr2line: ...`, run under that name) on standard error and exit
/// status 2 (help and version go to standard output with status 0, as clap
/// prints them).
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

fn run<const FULL: bool>(cli: Cli) -> CliResult<ExitCode> {
    if let Command::Snapshot(SnapshotCommand::Check { file }) = &cli.command {
        return commands::snapshot::check(file);
    }
    if let Command::LineTable {
        quiet,
        for_addr2line: Some(file),
    } = &cli.command
    {
        let out = &mut std::io::stdout().lock();
        return commands::line_table::run(file, commands::line_table::Kind::Tools, *quiet, out);
    }
    if let (Command::LineTable { quiet, .. }, Some(vmlinux)) = (&cli.command, &cli.source.vmlinux) {
        let out = &mut std::io::stdout().lock();
        return commands::line_table::run(vmlinux, commands::line_table::Kind::Kernel, *quiet, out);
    }
    if let Command::Addr2line(args) = &cli.command {
        let use_cache = !cli.source.no_cache;
        return commands::addr2line::run(args, ksym::lines::Flavour::Gnu, use_cache);
    }
    if FULL {
        #[cfg(feature = "store")]
        if let Command::Snapshot(SnapshotCommand::Pull {
            boot_id,
            file,
            store,
        }) = &cli.command
        {
            return commands::store::pull(boot_id, file, store.as_deref());
        }
        #[cfg(feature = "serve")]
        if let Command::Serve(args) = &cli.command {
            return commands::serve::run(args);
        }
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
        Command::LineTable { quiet, .. } => {
            let lines = Lines::new(&cli.source, &loaded, &cli.source.debuginfod);
            let kind = commands::line_table::Kind::Kernel;
            commands::line_table::run(&lines.vmlinux_path()?, kind, *quiet, &mut out)?
        }
        #[cfg(feature = "store")]
        Command::Snapshot(SnapshotCommand::Push { store, json }) if FULL => {
            commands::store::push(&loaded, store.as_deref(), *json, &mut out)?
        }
        // Pull above; both in `ksym-full` for `ksym` (see `needs_full`).
        #[cfg(feature = "store")]
        Command::Snapshot(SnapshotCommand::Push { .. } | SnapshotCommand::Pull { .. }) => {
            unreachable!("run by ksym-full")
        }
        #[cfg(feature = "serve")]
        Command::Serve(_) => unreachable!("handled above"),
        #[cfg(feature = "pprof")]
        Command::Pprof {
            input,
            output,
            lines,
        } if FULL => {
            let mut lines = lines.then(|| Lines::new(&cli.source, &loaded, &cli.source.debuginfod));
            commands::pprof::run(table, input, output, lines.as_mut(), &mut out)?
        }
        #[cfg(feature = "pprof")]
        Command::Pprof { .. } => unreachable!("run by ksym-full"),
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
