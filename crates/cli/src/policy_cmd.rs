//! Policy as code at the terminal: `terrane scan`, `terrane policy check|test|status`,
//! and the printing of the policy check every plan and apply runs (the check itself is
//! `terrane_workspace::policy`).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use terrane_engine::render::Style;
use terrane_engine::Plan;
use terrane_policy::rego;
use terrane_policy::report::{self, Paint};
use terrane_policy::scan::{self, Severity};
use terrane_state::lock;
use terrane_workspace::cost::PlanPrice;
use terrane_workspace::policy::{
    document, evaluate, evaluate_state, policy_sets, problems, scan_document, Checked, Gate, Lines,
    PlanCheck,
};
use terrane_workspace::Workspace;

use crate::args::ScanFormat;

/// Exit code of `terrane scan` when findings at or above `--fail-on` remain.
pub const EXIT_FINDINGS: u8 = 2;

/// The CLI's terminal style, as the report renderer's painter.
pub struct Painter(pub Style);

impl Paint for Painter {
    fn severity(&self, s: Severity, text: &str) -> String {
        match s {
            Severity::Critical | Severity::High => self.0.red(text),
            Severity::Medium => self.0.yellow(text),
            Severity::Low => self.0.cyan(text),
        }
    }
    fn bold(&self, text: &str) -> String {
        self.0.bold(text)
    }
    fn dim(&self, text: &str) -> String {
        self.0.dim(text)
    }
}

/// Evaluates the workspace's policy sets and the built-in scan against a plan, prints
/// the results (to stdout, or stderr when stdout carries JSON), and decides whether an
/// apply may go ahead. A set that cannot be loaded or evaluated fails.
pub fn check_plan(
    ws: &Workspace,
    plan: &Plan,
    extra: &[PathBuf],
    override_reason: Option<&str>,
    style: Style,
    to_stderr: bool,
) -> Gate {
    let checked = PlanCheck::start(ws, extra, false).finish(ws, plan, &PlanPrice::default());
    report_check(checked, override_reason, style, to_stderr)
}

/// Prints what the check found (to stdout, or stderr when stdout carries JSON) and
/// decides whether an apply may go ahead.
pub fn report_check(
    checked: Checked,
    override_reason: Option<&str>,
    style: Style,
    to_stderr: bool,
) -> Gate {
    let gate = checked.gate(override_reason);
    let (outcomes, scan) = (&gate.outcomes, &gate.scan);
    let mut out: Box<dyn std::io::Write> = if to_stderr {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    };
    let overridden = override_reason.is_some();
    if !outcomes.is_empty() {
        let _ = writeln!(out, "\n{}", style.bold("Policy checks:"));
        let _ = write!(
            out,
            "{}",
            report::policy_human(outcomes, overridden, &Painter(style))
        );
    }
    if let Some(r) = scan {
        if r.active().count() > 0 {
            let _ = writeln!(out, "\n{}", style.bold("Security scan (advisory):"));
            for f in r.active() {
                let loc = match (&f.file, f.line) {
                    (Some(file), Some(line)) => format!("{file}:{line}"),
                    _ => String::new(),
                };
                let _ = writeln!(
                    out,
                    "  {} {} {}: {}  {}",
                    Painter(style).severity(f.severity, f.severity.as_str()),
                    f.rule,
                    f.address,
                    f.message,
                    Painter(style).dim(&loc)
                );
            }
        }
        let _ = writeln!(out, "{}", report::summary_line(r));
    }
    gate
}

/// `terrane scan`: plans the configuration offline (no state, no credentials, data
/// sources unknown) and runs the built-in pack over it.
pub async fn scan_cmd(
    dir: &Path,
    vars: &crate::args::VarArgs,
    format: ScanFormat,
    fail_on: Severity,
    list_rules: bool,
    style: Style,
) -> u8 {
    if list_rules {
        return print_rules(format);
    }
    let Some(mut ws) = crate::session::load(dir, style.color).await else {
        return 1;
    };
    let start = std::time::Instant::now();
    let Some(plan) = crate::session::offline_plan(&mut ws, vars, style.color).await else {
        return 1;
    };
    let doc = document(&plan, &ws);
    let report = match scan_document(&ws, &doc) {
        Ok(r) => r,
        Err(errors) => {
            for e in errors {
                eprintln!("Error: {e}");
            }
            eprintln!("\nThe scan could not run; nothing was checked.");
            return 1;
        }
    };
    tracing::debug!(
        elapsed_ms = start.elapsed().as_millis() as u64,
        "scan finished"
    );
    let text = match format {
        ScanFormat::Human => {
            let lines = Lines::new(&ws.sources);
            report::human(&report, &Painter(style), &|file, line| {
                lines.text(file, line).map(str::to_string)
            })
        }
        ScanFormat::Json => pretty(&report::json(&report)),
        ScanFormat::Sarif => pretty(&report::sarif(&report, env!("CARGO_PKG_VERSION"))),
        ScanFormat::Junit => report::junit(&report),
    };
    out!("{text}");
    if format != ScanFormat::Human && !text.ends_with('\n') {
        outln!();
    }
    if report.failing(fail_on) > 0 {
        EXIT_FINDINGS
    } else {
        0
    }
}

fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

fn print_rules(format: ScanFormat) -> u8 {
    if format == ScanFormat::Json {
        outln!("{}", pretty(&serde_json::json!(scan::catalog())));
        return 0;
    }
    for r in scan::catalog() {
        outln!("{:<14} {:<8} {}", r.id, r.severity.as_str(), r.title);
    }
    0
}

/// `terrane policy check`: evaluates the policy sets against a saved plan or a fresh
/// one. Exit 0 when nothing would block an apply, 1 otherwise.
pub async fn check_cmd(
    dir: &Path,
    planfile: Option<&Path>,
    args: &crate::args::PlanArgs,
    as_json: bool,
    style: Style,
) -> u8 {
    let Some(mut ws) = crate::session::load(dir, style.color).await else {
        return 1;
    };
    let plan = match planfile {
        Some(p) => or_fail!(terrane_workspace::ops::read_planfile(dir, Some(&ws), p)),
        None => match crate::session::plan_quietly(&mut ws, args, style).await {
            Some(p) => p,
            None => return 1,
        },
    };
    let override_reason = args.override_policy.as_deref();
    if as_json {
        let doc = document(&plan, &ws);
        let (outcomes, scan) = evaluate(&ws, doc, &args.policy, ws.module.scan.on_plan);
        let blocked = outcomes.iter().any(|o| o.blocks(override_reason.is_some()));
        let doc = serde_json::json!({
            "policy_sets": report::policy_json(&outcomes, override_reason.is_some()),
            "scan": scan.as_ref().map(report::json),
            "blocks_apply": blocked,
        });
        outln!("{}", pretty(&doc));
        return u8::from(blocked);
    }
    let gate = check_plan(&ws, &plan, &args.policy, override_reason, style, false);
    if gate.blocked {
        outln!(
            "\n{}",
            style.red("An apply of this plan would be blocked by policy.")
        );
        1
    } else {
        0
    }
}

/// `terrane policy test`: runs the `test_` rules of every policy set.
pub async fn test_cmd(dir: &Path, extra: &[PathBuf], verbose: bool, style: Style) -> u8 {
    let Some(ws) = crate::session::load(dir, style.color).await else {
        return 1;
    };
    let sets = match policy_sets(&ws, extra) {
        Ok(s) => s,
        Err(e) => return crate::session::fail(e),
    };
    if sets.is_empty() {
        return crate::session::fail(
            "no policy sets: declare a policy block in the configuration or pass --policy DIR",
        );
    }
    let (mut passed, mut failed) = (0, 0);
    for set in &sets {
        match rego::run_tests(set) {
            Ok(results) => {
                for r in results {
                    let took = if verbose {
                        format!(" ({:?})", r.duration)
                    } else {
                        String::new()
                    };
                    if r.passed {
                        passed += 1;
                        outln!("{}: {}{took}", r.name, style.green("PASS"));
                    } else {
                        failed += 1;
                        outln!("{}: {}{took}", r.name, style.red("FAIL"));
                        outln!("  in {}", r.file);
                        match r.error {
                            Some(e) => outln!("  error: {e}"),
                            None => outln!("  the test evaluated to false or was undefined"),
                        }
                    }
                }
            }
            Err(errors) => {
                for e in errors {
                    eprintln!("Error: {e}");
                }
                failed += 1;
            }
        }
    }
    outln!("{}", "-".repeat(40));
    if failed == 0 {
        outln!("{}", style.green(&format!("PASS: {passed}/{passed}")));
        0
    } else {
        outln!("PASS: {passed}/{}", passed + failed);
        outln!(
            "{}",
            style.red(&format!("FAIL: {failed}/{}", passed + failed))
        );
        1
    }
}

/// `terrane policy status`: the compliance of the workspace's current state now, and
/// what the agent last recorded. Exit 0 in policy, 2 out of policy, 1 when it cannot
/// be evaluated.
pub fn status_cmd(dir: &Path, as_json: bool, style: Style) -> u8 {
    let (outcomes, scan, serial) = match evaluate_state(dir) {
        Ok(x) => x,
        Err(e) => return crate::session::fail(e),
    };
    let problems = problems(&outcomes, scan.as_ref());
    let agent = terrane_agent::compliance::last(&terrane_agent::client::agent_dir(dir));
    if as_json {
        outln!(
            "{}",
            pretty(&serde_json::json!({
                "compliant": problems.is_empty(),
                "state_serial": serial,
                "problems": problems,
                "policy_sets": report::policy_json(&outcomes, false),
                "scan": scan.as_ref().map(report::json),
                "agent_last_check": agent,
            }))
        );
    } else {
        if problems.is_empty() {
            outln!(
                "{} the state at serial {serial} passes every policy set and the built-in scan.",
                style.green(&style.bold("In policy:"))
            );
        } else {
            outln!(
                "{} {} problem{} in the state at serial {serial}:",
                style.red(&style.bold("Out of policy:")),
                problems.len(),
                if problems.len() == 1 { "" } else { "s" }
            );
            for p in &problems {
                outln!("  - {p}");
            }
        }
        match agent {
            Some(c) => outln!(
                "The agent last checked {} s ago: {}.",
                lock::now_secs().saturating_sub(c.checked_at),
                if c.compliant { "in policy" } else { "out of policy" }
            ),
            None => outln!("No agent has checked this workspace yet (terrane agent re-checks it every minute)."),
        }
    }
    if problems.is_empty() {
        0
    } else {
        EXIT_FINDINGS
    }
}
