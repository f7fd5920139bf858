//! `ksym-full`: the command with every subcommand linked in (`serve`,
//! `snapshot push`/`pull`, `pprof`); `ksym` runs it for those.

fn main() -> std::process::ExitCode {
    ksym_cli::run_command::<true>()
}
