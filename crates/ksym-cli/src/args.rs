//! Parsing the command line without building every subcommand: clap
//! copies each global option into every subcommand and builds each one's
//! help before it parses (half the instructions of a one-shot `ksym addr`).
//! When the subcommand is plain to see (the first word that is neither an
//! option nor an option's value), the tree holds the source options and
//! that subcommand only; anything else (no subcommand, `help`, short
//! options, an option not known here) gets the whole tree. Both trees give
//! the same matches (`tests` below).
//!
//! The one-shot lookup itself, `ksym addr HEX...` with no option, needs no
//! tree at all ([`quick`]): a third of its instructions were clap's.

use std::ffi::OsString;

use clap::{Args, Subcommand};

use crate::cli::{root, Cli, Command};
use crate::source::SourceArgs;

/// `ksym addr` followed by words none of which is an option: what clap
/// would make of it, without clap (tested against it).
pub(crate) fn quick(args: &[OsString]) -> Option<Cli> {
    let mut words = args.iter().skip(1).map(|a| a.to_str());
    if words.next()?? != "addr" {
        return None;
    }
    let addrs = words
        .map(|w| w.filter(|w| !w.starts_with('-')).map(str::to_string))
        .collect::<Option<Vec<String>>>()?;
    Some(Cli {
        source: SourceArgs::default(),
        command: Command::Addr {
            addrs,
            json: false,
            absolute: false,
            lines: false,
        },
    })
}

/// The tree to parse `args` with (`args[0]` the program).
pub(crate) fn command_for(args: &[OsString]) -> clap::Command {
    let globals = SourceArgs::augment_args(root());
    let Some(name) = subcommand_named(args, &globals) else {
        return Cli::full_command();
    };
    // Left for the exit to free, as the parsed tree is (`parse_args`).
    let all = Box::leak(Box::new(Command::augment_subcommands(clap::Command::new(
        "ksym",
    ))));
    match all.find_subcommand(name) {
        // As the derive adds a subcommand that must be given.
        Some(sub) => globals
            .subcommand(sub.clone())
            .subcommand_required(true)
            .arg_required_else_help(true),
        None => Cli::full_command(),
    }
}

/// The first word of `args` that is not an option or the value of one of
/// `globals`' options; `None` where that is not plain (a short option, an
/// option not among `globals`, one whose value may or may not follow).
fn subcommand_named<'a>(args: &'a [OsString], globals: &clap::Command) -> Option<&'a str> {
    let mut rest = args.iter().skip(1);
    while let Some(arg) = rest.next() {
        let arg = arg.to_str()?;
        let Some(long) = arg.strip_prefix("--") else {
            return (!arg.starts_with('-')).then_some(arg);
        };
        if long.is_empty() {
            return None;
        }
        let (name, inline_value) = match long.split_once('=') {
            Some((name, _)) => (name, true),
            None => (long, false),
        };
        let option = globals
            .get_arguments()
            .find(|a| a.get_long() == Some(name))?;
        let values = option.get_num_args().unwrap_or_default();
        if !option.get_action().takes_values() || inline_value {
            continue;
        }
        if values.min_values() != 1 || values.max_values() != 1 {
            return None;
        }
        rest.next()?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(line: &str) -> Vec<OsString> {
        std::iter::once("ksym")
            .chain(line.split_whitespace())
            .map(OsString::from)
            .collect()
    }

    /// What was matched: the top level's values and the subcommand's
    /// matches (not which subcommands the tree knew).
    fn values(m: &clap::ArgMatches) -> String {
        let all = format!("{m:?}");
        all.find("args: FlatMap")
            .map_or(all.clone(), |at| all[at..].to_string())
    }

    /// The quick tree and the whole one agree on every command line here:
    /// the same matches, or the same kind of error.
    #[test]
    fn the_quick_tree_parses_as_the_whole_one() {
        let lines = [
            "addr ffffffff81000000",
            "addr --json ffffffff81000000 0x10",
            "--kallsyms k.txt addr ffffffff81000000",
            "--kallsyms=k.txt addr --lines ffffffff81000000",
            "addr ffffffff81000000 --kallsyms k.txt",
            "--no-cache addr ffffffff81000000",
            "name schedule --module xfs",
            "resolve schedule+0x10/0x20",
            "addr --no-such-option 1",
            "addr",
            "info extra",
            "dump --format system-map",
            "dump --format nonsense",
            "--vmlinux v line-table --quiet",
            "line-table --for-addr2line prog",
            "snapshot save -o x",
            "snapshot check x",
            "addr2line -e prog -a -i -f 0x10",
            "--no-cache addr2line -e prog 0x10",
            "addr2line --no-cache -e prog 0x10",
            "decode --lines",
            "annotate",
            "--kallsyms",
            "-V",
            "",
        ];
        for line in lines {
            let args = argv(line);
            let quick = command_for(&args).try_get_matches_from(&args);
            let whole = Cli::full_command().try_get_matches_from(&args);
            match (quick, whole) {
                (Ok(q), Ok(w)) => assert_eq!(values(&q), values(&w), "{line}"),
                (Err(q), Err(w)) => assert_eq!(q.kind(), w.kind(), "{line}"),
                (q, w) => panic!("{line}: quick {:?}, whole {:?}", q.is_ok(), w.is_ok()),
            }
        }
    }

    /// clap's own checks of every subcommand (deferred ones are built
    /// only when parsed: a clash there would show only then).
    #[test]
    fn every_subcommand_passes_clap_checks() {
        Cli::full_command().debug_assert();
    }

    /// The quick `addr` gives what clap gives, and takes nothing else.
    #[test]
    fn the_quick_addr_is_what_clap_parses() {
        use clap::FromArgMatches;
        for line in [
            "addr ffffffff81000000",
            "addr 1 2 0x3 zz",
            "addr",
            "addr help",
        ] {
            let args = argv(line);
            let quick = quick(&args).expect(line);
            let mut matches = Cli::full_command().try_get_matches_from(&args).unwrap();
            let clap = Cli::from_arg_matches_mut(&mut matches).unwrap();
            assert_eq!(format!("{:?}", quick.source), format!("{:?}", clap.source));
            let fields = |c: &Command| match c {
                Command::Addr {
                    addrs,
                    json,
                    absolute,
                    lines,
                } => Some((addrs.clone(), *json, *absolute, *lines)),
                _ => None,
            };
            assert_eq!(fields(&quick.command), fields(&clap.command), "{line}");
            assert!(fields(&quick.command).is_some());
        }
        for line in [
            "addr --json 1",
            "addr 1 --lines",
            "--no-cache addr 1",
            "addr -1",
            "name x",
            "",
        ] {
            assert!(quick(&argv(line)).is_none(), "{line}");
        }
    }

    #[test]
    fn the_subcommand_is_found_only_where_it_is_plain() {
        let globals = SourceArgs::augment_args(root());
        let found = |line: &str| subcommand_named(&argv(line), &globals).map(str::to_string);
        assert_eq!(found("addr 1").as_deref(), Some("addr"));
        assert_eq!(found("--kallsyms k addr 1").as_deref(), Some("addr"));
        assert_eq!(found("--kallsyms=k addr 1").as_deref(), Some("addr"));
        assert_eq!(found("--no-cache addr 1").as_deref(), Some("addr"));
        assert_eq!(found("-V"), None);
        assert_eq!(found("--kallsyms"), None);
        assert_eq!(found("--unknown addr"), None);
        assert_eq!(found(""), None);
    }
}
