//! The `terrane` command-line interface: parses flags, loads the configuration and
//! state, runs the engine and presents the results. All IO of the provisioning
//! workflow (terminal, files, signals) lives here, not in the engine.

/// `print!` that survives a closed stdout (see [`ui::write_stdout`]).
macro_rules! out {
    ($($arg:tt)*) => { $crate::ui::write_stdout(format_args!($($arg)*)) };
}

/// `println!` that survives a closed stdout (see [`ui::write_stdout`]).
macro_rules! outln {
    () => { $crate::ui::write_stdout(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::ui::write_stdout(format_args!("{}\n", format_args!($($arg)*))) };
}

/// The value of a `Result`, or `return fail(error)` from the command (see
/// [`session::fail`]).
macro_rules! or_fail {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => return $crate::session::fail(e),
        }
    };
}

/// The value of a `Result` whose error is already reported, or `return` its exit code.
macro_rules! or_return {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(code) => return code,
        }
    };
}

mod agent_cmd;
mod args;
mod backup_cmd;
mod commands;
mod cost_cmd;
mod policy_cmd;
mod providers_cmd;
mod secret_cmd;
mod session;
mod state_cmd;
mod ui;

use std::path::PathBuf;
use std::process::ExitCode;

use args::Cli;
use clap::Parser;

// Plans of tens of thousands of resources allocate many small values; mimalloc makes
// that markedly cheaper than the system allocator (measured in bench/run.py).
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Usage errors exit 1 like every other error, so that 2 keeps meaning "changes" (plan
    // --detailed-exitcode) or "findings" (scan) to scripts; --help and --version exit 0.
    let cli = match Cli::try_parse_from(terraform_style_flags(
        with_tf_cli_args(std::env::args_os().collect()).into_iter(),
    )) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::from(e.use_stderr()));
        }
    };
    ui::init_logging();
    let Some(lock_timeout) = terrane_lang::funcs::go_duration(&cli.lock_timeout) else {
        eprintln!(
            "Error: -lock-timeout {:?} is not a duration (write it like 30s, 5m or 1h).",
            cli.lock_timeout
        );
        return ExitCode::from(1);
    };
    terrane_workspace::set_lock_settings(terrane_workspace::LockSettings {
        enabled: cli.lock,
        timeout: lock_timeout,
    });
    let tf_input = std::env::var("TF_INPUT").unwrap_or_default();
    ui::set_input(cli.input && !matches!(tf_input.as_str(), "0" | "false"));
    terrane_workspace::secrets::set_passphrase_prompt(secret_cmd::ask_passphrase);
    let color = ui::color_enabled(cli.no_color);
    let dir = match &cli.chdir {
        // Like Terraform's -chdir: relative paths in the configuration resolve against DIR.
        Some(d) => {
            match std::fs::canonicalize(d).and_then(|p| std::env::set_current_dir(&p).map(|()| p)) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("Error: cannot use directory {}: {e}", d.display());
                    return ExitCode::from(1);
                }
            }
        }
        None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    // Boxed so that the command tree is compiled once: `Runtime::block_on` polls its
    // future from three places (the multi-thread and current-thread schedulers and the
    // park loop), and rustc copies an async body, with every async fn it awaits, into
    // each codegen unit that polls it. Polled through one vtable made here, it is not
    // copied (this took 1 MB off the release binary).
    let main: std::pin::Pin<Box<dyn std::future::Future<Output = u8>>> = Box::pin(async {
        let code = commands::run(cli.command, dir, color).await;
        terrane_workspace::plugins::shutdown_all().await;
        code
    });
    let code = runtime.block_on(main);
    // Providers may have left tasks (such as a slow sleep) running; don't wait for them.
    runtime.shutdown_background();
    ExitCode::from(code)
}

/// Terraform's TF_CLI_ARGS and TF_CLI_ARGS_<command>: arguments (split as a shell
/// would) inserted after the command's name, the general ones first.
fn with_tf_cli_args(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut i = 1;
    while let Some(a) = args.get(i).and_then(|a| a.to_str()) {
        match a {
            "-C" | "--chdir" | "-chdir" => i += 2,
            _ if a.starts_with('-') => i += 1,
            _ => break,
        }
    }
    let Some(command) = args.get(i).map(|c| c.to_string_lossy().into_owned()) else {
        return args;
    };
    let extra: Vec<std::ffi::OsString> =
        ["TF_CLI_ARGS".to_string(), format!("TF_CLI_ARGS_{command}")]
            .iter()
            .filter_map(|v| std::env::var(v).ok())
            .flat_map(|v| shlex::split(&v).unwrap_or_default())
            .map(Into::into)
            .collect();
    args.splice(i + 1..i + 1, extra);
    args
}

/// Terraform spells long flags with one dash (`-json`, `-var x=1`, `-auto-approve`,
/// `-chdir=DIR`), and scripts written for it do too: such an argument is read as the
/// same flag with two dashes. Single letters (`-C`) stay short flags; everything after
/// `--` is left alone.
fn terraform_style_flags(
    args: impl Iterator<Item = std::ffi::OsString>,
) -> Vec<std::ffi::OsString> {
    let mut out = Vec::new();
    let mut rest = false;
    for a in args {
        let Some(s) = a.to_str() else {
            out.push(a);
            continue;
        };
        if s == "--" {
            rest = true;
        }
        let name = s.strip_prefix('-').unwrap_or("");
        let name = name.split('=').next().unwrap_or("");
        let long = !rest
            && !s.starts_with("--")
            && name.len() > 1
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        out.push(if long { format!("-{s}").into() } else { a });
    }
    out
}
