//! `ksym`: the command, without the subcommands that need the heavy crates
//! (it hands those to `ksym-full`; see the crate documentation).

fn main() -> std::process::ExitCode {
    ksym_cli::run_command::<false>()
}
