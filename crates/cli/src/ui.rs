//! Terminal presentation: colors, diagnostics, progress of long applies, prompts.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use terrane_core::{Diagnostics, InstanceAddr, SourceMap};
use terrane_engine::render::Style;
use terrane_engine::{Action, Event, Observer};

/// Set once the reader of stdout went away (`terrane show | head -1`).
static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Writes to stdout as `print!` does, but a closed pipe is not a panic: from then on
/// stdout goes to /dev/null, so the command still finishes its work (an apply still
/// records what it did) and ends quietly, as Unix tools do. Used through [`out!`] and
/// [`outln!`].
pub fn write_stdout(args: std::fmt::Arguments) {
    check_stdout(std::io::stdout().lock().write_fmt(args));
}

/// Whether stdout's reader went away: long-running commands (`logs --follow`) stop.
pub fn stdout_is_closed() -> bool {
    STDOUT_CLOSED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Records that stdout's reader went away and points stdout at /dev/null.
pub fn stdout_closed() {
    if STDOUT_CLOSED.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        use std::os::fd::AsRawFd;
        // SAFETY: dup2 onto fd 1 with a descriptor this function owns; fd 1 stays open
        // (now on /dev/null) for every holder of it.
        #[allow(unsafe_code)]
        unsafe {
            libc::dup2(null.as_raw_fd(), libc::STDOUT_FILENO);
        }
    }
}

/// Checks a write to stdout made through a lock held elsewhere.
pub fn check_stdout(result: std::io::Result<()>) {
    if let Err(e) = result {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            stdout_closed();
        }
    }
}

pub fn color_enabled(no_color_flag: bool) -> bool {
    !no_color_flag
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::stdout().is_terminal()
}

pub fn init_logging() {
    // With TERRANE_LOG set, the full log format for whoever debugs; without it, the
    // warnings a user sees are sentences ("Warning: ..."), not log records.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("TERRANE_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .try_init();
        return;
    }
    // The AWS SDK warns about things terrane reports itself (a missing config file
    // named in the environment, retries); TERRANE_LOG=aws_config=warn shows them.
    let filter = tracing_subscriber::EnvFilter::new(
        "warn,aws_runtime=error,aws_config=error,aws_smithy_runtime=error",
    );
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .event_format(Sentences)
        .try_init();
}

/// Formats a log event as a sentence for the user: `Warning: MESSAGE (field: value)`.
struct Sentences;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for Sentences
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        #[derive(Default)]
        struct Fields {
            message: String,
            rest: Vec<String>,
        }
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.message = format!("{value:?}");
                } else {
                    self.rest.push(format!("{}: {value:?}", field.name()));
                }
            }

            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                if field.name() == "message" {
                    self.message = value.to_string();
                } else {
                    self.rest.push(format!("{}: {value}", field.name()));
                }
            }
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let level = match *event.metadata().level() {
            tracing::Level::ERROR => "Error: ",
            tracing::Level::WARN => "Warning: ",
            _ => "",
        };
        write!(writer, "{level}{}", fields.message)?;
        if !fields.rest.is_empty() {
            write!(writer, " ({})", fields.rest.join(", "))?;
        }
        writeln!(writer)
    }
}

pub fn print_diags(diags: &Diagnostics, sources: &SourceMap, color: bool) {
    let color = color && std::io::stderr().is_terminal();
    let mut err = std::io::stderr().lock();
    for d in diags.iter() {
        let _ = writeln!(err, "{}", d.render(sources, color));
    }
}

/// Whether terrane may ask questions (`-input=false` and `TF_INPUT=0` say no).
static INPUT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

pub fn set_input(allowed: bool) {
    INPUT.store(allowed, std::sync::atomic::Ordering::Relaxed);
}

/// Asks for "yes" on the terminal (or stdin).
pub fn confirm(question: &str, style: Style) -> bool {
    if !INPUT.load(std::sync::atomic::Ordering::Relaxed) {
        eprintln!("Error: approval is needed, but input is disabled (-input=false or TF_INPUT=0); apply a saved plan or add -auto-approve.");
        return false;
    }
    outln!("\n{}", style.bold(question));
    outln!("  terrane will perform the actions described above.");
    outln!("  Only 'yes' will be accepted to approve.\n");
    out!("  {} ", style.bold("Enter a value:"));
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    match std::io::stdin().read_line(&mut line) {
        Ok(0) | Err(_) => {
            outln!();
            false
        }
        Ok(_) => line.trim() == "yes",
    }
}

fn verb(action: Action) -> (&'static str, &'static str) {
    match action {
        Action::Create | Action::DeleteThenCreate | Action::CreateThenDelete => {
            ("Creating...", "Creation complete")
        }
        Action::Update => ("Modifying...", "Modifications complete"),
        Action::Delete => ("Destroying...", "Destruction complete"),
        Action::Read => ("Reading...", "Read complete"),
        Action::NoOp | Action::Forget => ("", ""),
    }
}

fn secs(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[derive(Default)]
struct Progress {
    in_flight: BTreeMap<InstanceAddr, (Action, Instant)>,
    done: usize,
    failed: usize,
}

/// Prints Terraform-style progress lines and, every 10 seconds, what is still running.
pub struct Printer {
    style: Style,
    /// When false (plan --json), only warnings are printed (to stderr).
    pub verbose: bool,
    progress: Arc<Mutex<Progress>>,
    started: Instant,
    /// The configuration's text, to show warnings at their source lines.
    sources: SourceMap,
}

impl Printer {
    pub fn new(style: Style, verbose: bool, sources: &SourceMap) -> Printer {
        Printer {
            sources: sources.clone(),
            style,
            verbose,
            progress: Arc::new(Mutex::new(Progress::default())),
            started: Instant::now(),
        }
    }

    /// Starts the periodic "still running" report; stop it by aborting the handle.
    pub fn start_ticker(&self) -> tokio::task::JoinHandle<()> {
        let progress = self.progress.clone();
        let started = self.started;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(10));
            tick.tick().await;
            loop {
                tick.tick().await;
                let p = match progress.lock() {
                    Ok(p) => p,
                    Err(_) => return,
                };
                if p.in_flight.is_empty() {
                    continue;
                }
                let mut out = std::io::stdout().lock();
                for (addr, (action, since)) in p.in_flight.iter().take(10) {
                    let v = match action {
                        Action::Delete => "destroying",
                        Action::Update => "modifying",
                        _ => "creating",
                    };
                    check_stdout(writeln!(
                        out,
                        "{addr}: Still {v}... [{} elapsed]",
                        secs(since.elapsed())
                    ));
                }
                check_stdout(writeln!(
                    out,
                    "Progress: {} done, {} in flight, {} failed, {} elapsed",
                    p.done,
                    p.in_flight.len(),
                    p.failed,
                    secs(started.elapsed())
                ));
            }
        })
    }
}

impl Observer for Printer {
    fn event(&self, event: Event) {
        let st = self.style;
        if let Event::Warning(d) = &event {
            eprintln!("{}", d.render(&self.sources, st.color));
            return;
        }
        if !self.verbose {
            return;
        }
        let mut out = std::io::stdout().lock();
        match event {
            Event::Refreshing(addr, id) => {
                let id = id.map(|i| format!(" [id={i}]")).unwrap_or_default();
                check_stdout(writeln!(
                    out,
                    "{}: Refreshing state...{id}",
                    st.bold(&addr.to_string())
                ));
            }
            Event::Reading(addr) => {
                check_stdout(writeln!(out, "{}: Reading...", st.bold(&addr.to_string())));
            }
            Event::Provisioner(addr, kind, line) => {
                check_stdout(writeln!(
                    out,
                    "{} ({kind}): {line}",
                    st.bold(&addr.to_string())
                ));
            }
            Event::Planned(..) | Event::Warning(_) => {}
            Event::ApplyStarted(addr, action, id) => {
                if let Ok(mut p) = self.progress.lock() {
                    p.in_flight.insert(addr.clone(), (action, Instant::now()));
                }
                let id = id.map(|i| format!(" [id={i}]")).unwrap_or_default();
                check_stdout(writeln!(
                    out,
                    "{}: {}{id}",
                    st.bold(&addr.to_string()),
                    verb(action).0
                ));
            }
            Event::ApplyDone(addr, action, took, id) => {
                if let Ok(mut p) = self.progress.lock() {
                    p.in_flight.remove(&addr);
                    p.done += 1;
                }
                let id = id.map(|i| format!(" [id={i}]")).unwrap_or_default();
                check_stdout(writeln!(
                    out,
                    "{}: {} after {}{id}",
                    st.bold(&addr.to_string()),
                    verb(action).1,
                    secs(took)
                ));
            }
            Event::ApplyFailed(addr, _) => {
                if let Ok(mut p) = self.progress.lock() {
                    p.in_flight.remove(&addr);
                    p.failed += 1;
                }
                check_stdout(writeln!(
                    out,
                    "{}: {}",
                    st.bold(&addr.to_string()),
                    st.red("Failed")
                ));
            }
        }
    }
}
