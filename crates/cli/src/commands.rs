//! One function per command. Each returns the process exit code.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use terrane_engine::model;
use terrane_engine::render::{render_plan, Style};
use terrane_engine::{json, Plan};
use terrane_state::Snapshot;
use terrane_workspace::agent::AgentStart;
use terrane_workspace::cost::PlanPrice;
use terrane_workspace::ops;
use terrane_workspace::Workspace;

use crate::args::{Command, PlanArgs, VarArgs};
use crate::session::{build_model, fail, load, report, warner};
use crate::state_cmd;
use crate::ui::{confirm, print_diags, Printer};

pub const EXIT_INTERRUPTED: u8 = 130;

pub async fn run(command: Command, dir: PathBuf, color: bool) -> u8 {
    let style = Style { color };
    match command {
        Command::Validate { json } => validate(&dir, json, color).await,
        Command::Init { upgrade } => crate::providers_cmd::init(&dir, upgrade, color),
        Command::Providers { command: None } => crate::providers_cmd::list(&dir, color).await,
        Command::Providers {
            command: Some(crate::args::ProvidersCommand::Schema { json: _ }),
        } => crate::providers_cmd::schema_json(&dir, color).await,
        Command::Plan {
            args,
            out,
            json,
            detailed_exitcode,
        } => plan_cmd(&dir, &args, out.as_deref(), json, detailed_exitcode, style).await,
        Command::Apply {
            planfile,
            args,
            auto_approve,
        } => apply_cmd(&dir, planfile.as_deref(), &args, auto_approve, style).await,
        Command::Destroy {
            vars,
            auto_approve,
            parallelism,
            targets,
        } => {
            let args = PlanArgs {
                vars,
                targets,
                refresh: true,
                destroy: true,
                parallelism,
                policy: Vec::new(),
                override_policy: None,
                replace: Vec::new(),
                refresh_only: false,
                generate_config_out: None,
            };
            apply_cmd(&dir, None, &args, auto_approve, style).await
        }
        Command::Show { planfile, json } => show(&dir, planfile.as_deref(), json, style),
        Command::Output { name, json, raw } => output(&dir, name.as_deref(), json, raw),
        Command::Graph => graph(&dir, color).await,
        Command::Workspace(c) => workspace_cmd(&dir, c),
        Command::Console { vars } => console(&dir, &vars, color).await,
        Command::Fmt {
            check,
            recursive,
            paths,
        } => fmt(&dir, check, recursive, &paths),
        Command::State(sc) => state_cmd::run(&dir, sc, style),
        Command::Taint { address } => state_cmd::taint(&dir, &address, true),
        Command::Untaint { address } => state_cmd::taint(&dir, &address, false),
        Command::Secret(sc) => crate::secret_cmd::run(&dir, sc),
        Command::Backup(bc) => crate::backup_cmd::run(&dir, bc),
        Command::Restore {
            backup,
            from,
            identity,
        } => {
            let (ws, _) = Workspace::load(&dir);
            let identity = identity.as_deref();
            match terrane_workspace::backup::restore(&ws, &backup, from.as_deref(), identity) {
                Ok(msg) => {
                    outln!("{msg}");
                    0
                }
                Err(e) => fail(format!("the restore failed: {e}")),
            }
        }
        Command::Import { address, id, vars } => import(&dir, &address, &id, &vars, style).await,
        Command::ForceUnlock { lock_id } => force_unlock(&dir, &lock_id),
        Command::Agent {
            action: None,
            listen,
            worker,
        } => crate::agent_cmd::run_agent(&dir, &listen, worker).await,
        Command::Agent {
            action: Some(crate::args::AgentAction::Stop),
            ..
        } => crate::agent_cmd::stop(&dir).await,
        Command::Status { json } => crate::agent_cmd::status(&dir, json, style).await,
        Command::Logs { service, follow } => crate::agent_cmd::logs(&dir, &service, follow).await,
        Command::Events { follow } => crate::agent_cmd::events(&dir, follow).await,
        Command::Scan {
            dir: scan_dir,
            format,
            fail_on,
            list_rules,
            vars,
        } => {
            let target = scan_dir.map(|d| dir.join(d)).unwrap_or_else(|| dir.clone());
            crate::policy_cmd::scan_cmd(&target, &vars, format, fail_on, list_rules, style).await
        }
        Command::Policy(crate::args::PolicyCommand::Check {
            planfile,
            args,
            json,
        }) => crate::policy_cmd::check_cmd(&dir, planfile.as_deref(), &args, json, style).await,
        Command::Policy(crate::args::PolicyCommand::Status { json }) => {
            crate::policy_cmd::status_cmd(&dir, json, style)
        }
        Command::Policy(crate::args::PolicyCommand::Test { policy, verbose }) => {
            crate::policy_cmd::test_cmd(&dir, &policy, verbose, style).await
        }
        Command::Cost(c) => cost(&dir, c, style).await,
    }
}

async fn cost(dir: &Path, c: crate::args::CostCommand, style: Style) -> u8 {
    use crate::cost_cmd::{self, Source};
    let (opts, baseline) = match c.action {
        None => (c.opts, None),
        Some(crate::args::CostAction::Diff { compare_to, opts }) => (opts, Some(compare_to)),
        Some(crate::args::CostAction::Catalog { prices }) => {
            return cost_cmd::catalog_cmd(dir, &prices)
        }
    };
    let args = PlanArgs {
        vars: opts.vars.clone(),
        targets: Vec::new(),
        refresh: opts.refresh,
        destroy: false,
        parallelism: 10,
        policy: Vec::new(),
        override_policy: None,
        replace: Vec::new(),
        refresh_only: false,
        generate_config_out: None,
    };
    let source = match &opts.planfile {
        Some(p) => Source::File(p),
        None => Source::Fresh(&args),
    };
    match baseline {
        None => cost_cmd::cost_cmd(dir, source, &opts.prices, opts.format, style).await,
        Some(b) => cost_cmd::diff_cmd(dir, &b, source, &opts.prices, opts.format, style).await,
    }
}

async fn validate(dir: &Path, as_json: bool, color: bool) -> u8 {
    let (mut ws, mut diags) = Workspace::load(dir);
    if !diags.has_errors() {
        diags.extend(ws.start_plugins().await);
    }
    if !diags.has_errors() {
        let (_, d) = model::build(&ws.module, &ws.registry);
        let structural = d.has_errors();
        diags.extend(d);
        // Expressions are checked once the references they use are known to be valid.
        if !structural {
            diags.extend(terrane_lang::check::check_expressions(&ws.module));
        }
        diags.extend(terrane_workspace::policy::validate_policies(&ws));
    }
    if as_json {
        let doc = diags.to_validate_json(&ws.sources);
        outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        print_diags(&diags, &ws.sources, color);
        if !diags.has_errors() {
            let st = Style { color };
            outln!(
                "{} The configuration is valid.",
                st.green(&st.bold("Success!"))
            );
        }
    }
    u8::from(diags.has_errors())
}

/// Sets the flag on the first Ctrl-C (or SIGTERM); exits at once on the second.
fn install_interrupt(cancel: Arc<AtomicBool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        wait_for_signal(&mut term).await;
        cancel.store(true, Ordering::SeqCst);
        eprintln!("\nInterrupt received. Waiting for operations in flight to finish, then saving state and stopping.\nPress Ctrl-C again to stop at once (operations in flight may then be lost from state).");
        wait_for_signal(&mut term).await;
        eprintln!("Second interrupt: exiting immediately.");
        terrane_workspace::plugins::kill_all();
        std::process::exit(i32::from(EXIT_INTERRUPTED));
    })
}

async fn wait_for_signal(term: &mut Option<tokio::signal::unix::Signal>) {
    match term {
        Some(t) => {
            tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = t.recv() => {} }
        }
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Plans, with the plan's policy check started alongside: the check takes each
/// change as the engine settles it (a `-target` plan, whose changes are cut after
/// planning, is checked after planning).
async fn make_checked_plan(
    ws: &mut Workspace,
    args: &PlanArgs,
    prior: &Snapshot,
    printer: &Printer,
    cancel: &AtomicBool,
    color: bool,
) -> (terrane_workspace::policy::PlanCheck, Option<Plan>) {
    let check =
        terrane_workspace::policy::PlanCheck::start(ws, &args.policy, args.targets.is_empty());
    let plan = {
        let observer = check.observer(printer);
        ops::plan(
            ws,
            &args.request(),
            prior,
            &observer,
            cancel,
            &warner(color),
        )
        .await
    };
    (check, plan.map_err(|e| report(e, &ws.sources, color)).ok())
}

async fn plan_cmd(
    dir: &Path,
    args: &PlanArgs,
    out: Option<&Path>,
    as_json: bool,
    detailed: bool,
    style: Style,
) -> u8 {
    let Some(mut ws) = load(dir, style.color).await else {
        return 1;
    };
    let prior = or_fail!(ops::read_existing(&ws));
    let cancel = Arc::new(AtomicBool::new(false));
    let _sig = install_interrupt(cancel.clone());
    let printer = Printer::new(style, !as_json, &ws.sources);
    let (check, planned) =
        make_checked_plan(&mut ws, args, &prior, &printer, &cancel, style.color).await;
    let Some(plan) = planned else {
        return if cancel.load(Ordering::SeqCst) {
            EXIT_INTERRUPTED
        } else {
            1
        };
    };
    let Some(checked) = print_plan_and_check(&ws, &plan, check, style, as_json) else {
        return 1;
    };
    let gate =
        crate::policy_cmd::report_check(checked, args.override_policy.as_deref(), style, as_json);
    if gate.blocked {
        eprintln!("\nError: an apply of this plan would be blocked by the policy checks above.");
        return 1;
    }
    if let Some(path) = out {
        let path = or_fail!(ops::write_planfile(&ws, &plan, path));
        if !as_json {
            outln!("\nSaved the plan to: {}\n\nTo perform exactly these actions, run:\n    terrane apply {}", path.display(), path.display());
        }
    } else if !as_json && plan.has_changes() {
        outln!("\nNote: you didn't use --out to save this plan, so terrane can't guarantee to take exactly these actions if you run \"terrane apply\" now.");
    }
    if detailed && plan.has_changes() {
        2
    } else {
        0
    }
}

async fn apply_cmd(
    dir: &Path,
    planfile_path: Option<&Path>,
    args: &PlanArgs,
    auto_approve: bool,
    style: Style,
) -> u8 {
    let color = style.color;
    let Some(mut ws) = load(dir, color).await else {
        return 1;
    };
    let operation = if args.destroy { "destroy" } else { "apply" };
    let mut held =
        or_return!(ops::Held::lock(&ws, operation).map_err(|e| report(e, &ws.sources, color)));
    if !args.destroy {
        let program = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("terrane"));
        match terrane_workspace::agent::ensure_agent_for(&ws.dir, &held.prior, &program).await {
            AgentStart::NotNeeded => {}
            AgentStart::Started(handed) => eprintln!(
                "terrane: no agent was running; started one in the background, which takes over {} ({}).",
                if handed.len() == 1 { "1 resource".to_string() } else { format!("{} resources", handed.len()) },
                handed.join(", ")
            ),
            AgentStart::Failed(e) => {
                eprintln!("Warning: the agent that runs local services could not be started: {e}")
            }
        }
    }
    let started_at = terrane_state::lock::now_secs();
    let cancel = Arc::new(AtomicBool::new(false));
    let _sig = install_interrupt(cancel.clone());
    let printer = Printer::new(style, true, &ws.sources);
    let plan = match planfile_path {
        Some(p) => {
            let plan = or_fail!(ops::read_planfile(dir, Some(&ws), p));
            if let Err(e) = ops::check_saved_plan(&ws, &plan, &held.prior) {
                return report(e, &ws.sources, color);
            }
            let check = terrane_workspace::policy::PlanCheck::start(&ws, &args.policy, false);
            let Some(checked) = print_plan_and_check(&ws, &plan, check, style, false) else {
                return 1;
            };
            if !policy_allows(&ws, checked, args, style, operation) {
                return 1;
            }
            plan
        }
        None => {
            let (check, planned) =
                make_checked_plan(&mut ws, args, &held.prior, &printer, &cancel, color).await;
            let Some(plan) = planned else {
                return if cancel.load(Ordering::SeqCst) {
                    EXIT_INTERRUPTED
                } else {
                    1
                };
            };
            if !plan.has_changes() {
                out!("{}", render_plan(&plan, style));
                return 0;
            }
            let Some(checked) = print_plan_and_check(&ws, &plan, check, style, false) else {
                return 1;
            };
            if !policy_allows(&ws, checked, args, style, operation) {
                return 1;
            }
            if !auto_approve {
                let q = if plan.destroy {
                    "Do you really want to destroy all resources?"
                } else {
                    "Do you want to perform these actions?"
                };
                if !confirm(q, style) {
                    let what = if plan.destroy { "Destroy" } else { "Apply" };
                    eprintln!("\n{what} cancelled: only 'yes' confirms. Nothing was changed.");
                    return 1;
                }
            }
            plan
        }
    };
    if !plan.has_changes() {
        return 0;
    }
    if cancel.load(Ordering::SeqCst) {
        eprintln!("Interrupted before any change was made.");
        return EXIT_INTERRUPTED;
    }
    outln!();
    let ticker = printer.start_ticker();
    let outcome = ops::apply(
        &ws,
        &plan,
        &mut held,
        args.parallelism,
        &printer,
        &cancel,
        &warner(color),
    )
    .await;
    ticker.abort();
    let outcome = or_return!(outcome.map_err(|e| report(e, &ws.sources, color)));
    print_diags(&outcome.diagnostics, &ws.sources, color);
    // As Terraform words it: a destroy counts only what it destroyed.
    let summary = if plan.destroy {
        format!("Resources: {} destroyed.", outcome.destroyed)
    } else {
        format!(
            "Resources: {} added, {} changed, {} destroyed.",
            outcome.added, outcome.changed, outcome.destroyed
        )
    };
    let (what, again) = if plan.destroy {
        ("Destroy", "terrane destroy")
    } else {
        ("Apply", "terrane apply")
    };
    // An operation that Ctrl-C cancelled (a time_sleep) fails: still an interruption.
    if outcome.interrupted || cancel.load(Ordering::SeqCst) {
        eprintln!("\n{what} interrupted. {summary} Every completed change was saved to state; run {again} again to finish.");
        return EXIT_INTERRUPTED;
    }
    if outcome.failed() {
        eprintln!("\n{what} failed. {summary} Every completed change was saved to state; fix the errors above and run {again} again.");
        return 1;
    }
    outln!(
        "\n{} {summary}",
        style.green(&style.bold(&format!("{what} complete!")))
    );
    if !plan.destroy {
        if let Ok(state) = held.backend.read_current() {
            out!(
                "{}",
                terrane_engine::render::render_outputs_section(&state, style)
            );
        }
    } else if terrane_workspace::agent::stop_if_started_for_nothing(&ws.dir, started_at).await {
        eprintln!("terrane: stopped the workspace agent again: this destroy started it, and nothing is left for it to run.");
    }
    0
}

/// Prints the plan (as text with its cost line, or as the JSON document) while the
/// policy check finishes on other threads. `None` (after saying so) if the check broke.
fn print_plan_and_check(
    ws: &Workspace,
    plan: &Plan,
    check: terrane_workspace::policy::PlanCheck,
    style: Style,
    as_json: bool,
) -> Option<terrane_workspace::policy::Checked> {
    // Priced once: for the policies' input.cost and for the plan's cost line.
    let price = PlanPrice::default();
    let checked = std::thread::scope(|scope| {
        let checked = scope.spawn(|| check.finish(ws, plan, &price));
        if as_json {
            outln!(
                "{}",
                serde_json::to_string(&terrane_workspace::policy::document(plan, ws))
                    .unwrap_or_default()
            );
        } else {
            // Which providers are plugins, as the plan's header says.
            if let Some(h) = terrane_workspace::plugins::header(ws) {
                outln!("{h}\n");
            }
            out!("{}", render_plan(plan, style));
            crate::cost_cmd::print_plan_line(ws, plan, &price, style);
        }
        checked.join()
    });
    if checked.is_err() {
        eprintln!("\nError: the policy check of the plan failed unexpectedly (a thread panicked). Nothing was changed or saved.");
    }
    checked.ok()
}

/// Runs the policy checks of a plan about to be applied: false (after saying why) when
/// they block it. An override of failing soft_mandatory sets is recorded in the audit
/// log first; if it cannot be recorded, the apply does not go ahead.
fn policy_allows(
    ws: &Workspace,
    checked: terrane_workspace::policy::Checked,
    args: &PlanArgs,
    style: Style,
    operation: &str,
) -> bool {
    let reason = args.override_policy.as_deref();
    let gate = crate::policy_cmd::report_check(checked, reason, style, false);
    if gate.blocked {
        eprintln!("\nError: the apply is blocked by the policy checks above. Nothing was changed.");
        if gate
            .outcomes
            .iter()
            .any(|o| o.level == terrane_policy::Enforcement::SoftMandatory && o.failed())
            && reason.is_none()
        {
            eprintln!("soft_mandatory policy sets can be overridden with --override-policy \"<reason>\"; the reason is recorded.");
        }
        return false;
    }
    if let (Some(reason), false) = (reason, gate.overridden.is_empty()) {
        if let Err(e) =
            terrane_workspace::policy::record_override(ws, &gate.overridden, reason, operation)
        {
            eprintln!(
                "\nError: the policy override could not be recorded ({e}); nothing was changed."
            );
            return false;
        }
        outln!(
            "{}",
            style.yellow(&format!(
                "Policy sets {} failed and were overridden: {reason}",
                gate.overridden.join(", ")
            ))
        );
    }
    true
}

fn show(dir: &Path, planfile_path: Option<&Path>, as_json: bool, style: Style) -> u8 {
    if let Some(p) = planfile_path {
        let plan = or_fail!(ops::read_planfile(dir, None, p));
        if as_json {
            // As `plan --json` prints it, `configuration` included (tools that read
            // saved plans connect resources through it), when the configuration the
            // plan was made from is at hand.
            let (doc, current) = ops::saved_plan_json(dir, &plan);
            if !current {
                eprintln!("Warning: the configuration changed since this plan was made (or does not load), so the JSON has no configuration section. Run terrane plan --out again for one.");
            }
            outln!("{}", serde_json::to_string(&doc).unwrap_or_default());
        } else {
            out!("{}", render_plan(&plan, style));
        }
        return 0;
    }
    let ws = Workspace::load(dir).0;
    let state = or_fail!(ops::read_existing(&ws));
    if as_json {
        let doc = json::state_json(&state, &ws.registry.sources());
        outln!("{}", serde_json::to_string(&doc).unwrap_or_default());
        return 0;
    }
    out!("{}", terrane_engine::render::render_state(&state, style));
    0
}

fn output(dir: &Path, name: Option<&str>, as_json: bool, raw: bool) -> u8 {
    let state = or_fail!(ops::read_existing(&Workspace::load(dir).0));
    match name {
        None => {
            if as_json {
                let doc = terrane_engine::json::outputs(&state);
                outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
            } else if state.outputs.is_empty() {
                eprintln!("Warning: no outputs found. The state has no outputs; declare output blocks and run terrane apply.");
            } else {
                out!("{}", terrane_engine::render::render_outputs(&state, false));
            }
            0
        }
        Some(n) => {
            let Some(o) = state.outputs.get(n) else {
                return fail(format!(
                    "Output {n:?} not found. The state has {}.",
                    if state.outputs.is_empty() {
                        "no outputs".to_string()
                    } else {
                        format!(
                            "these outputs: {}",
                            state.outputs.keys().cloned().collect::<Vec<_>>().join(", ")
                        )
                    }
                ));
            };
            if raw {
                let (plain, _) = o.value.unmark();
                match plain {
                    terrane_core::Value::String(s) => out!("{s}"),
                    terrane_core::Value::Number(_) | terrane_core::Value::Bool(_) => out!("{}", plain.to_display()),
                    _ => return fail("--raw prints only strings, numbers and bools; use --json for other values."),
                }
            } else if as_json {
                // As Terraform: a script that asks for one output gets its value, even a
                // sensitive one (listings keep it hidden).
                outln!("{}", o.value.unmark().0.to_json());
            } else {
                outln!("{}", o.value.unmark().0.to_display());
            }
            0
        }
    }
}

async fn graph(dir: &Path, color: bool) -> u8 {
    let Some(ws) = load(dir, color).await else {
        return 1;
    };
    let Some(model) = build_model(&ws, color) else {
        return 1;
    };
    let out = model.to_dot();
    out!("{out}");
    0
}

fn fmt(dir: &Path, check: bool, recursive: bool, paths: &[PathBuf]) -> u8 {
    let roots: Vec<PathBuf> = if paths.is_empty() {
        vec![dir.to_path_buf()]
    } else {
        paths.iter().map(|p| dir.join(p)).collect()
    };
    let report = terrane_workspace::fmt::format_files(&roots, recursive, !check);
    let shown = |f: &PathBuf| f.strip_prefix(dir).unwrap_or(f).display().to_string();
    for f in &report.changed {
        outln!("{}", shown(f));
    }
    for (f, e) in &report.unwritable {
        eprintln!("Error: cannot write {}: {e}", shown(f));
    }
    for (f, msg) in &report.unparsable {
        eprintln!(
            "Error: {} was not formatted because it does not parse: {msg}",
            shown(f)
        );
    }
    if !report.unwritable.is_empty() || !report.unparsable.is_empty() {
        1
    } else if check && !report.changed.is_empty() {
        3
    } else {
        0
    }
}

async fn import(dir: &Path, address: &str, id: &str, vars: &VarArgs, style: Style) -> u8 {
    let color = style.color;
    let Some(mut ws) = load(dir, color).await else {
        return 1;
    };
    outln!("{}: Importing from ID {id:?}...", style.bold(address));
    let printer = Printer::new(style, true, &ws.sources);
    match ops::import(
        &mut ws,
        address,
        id,
        &vars.inputs(),
        &printer,
        &warner(color),
    )
    .await
    {
        Ok(inst) => {
            outln!("{}: Import prepared!\n", style.bold(&inst.addr.to_string()));
            outln!("{} The resource is now managed by terrane. Run terrane plan to see how the configuration differs from the imported object.", style.green(&style.bold("Import successful!")));
            0
        }
        Err(e) => report(e, &ws.sources, color),
    }
}

fn force_unlock(dir: &Path, lock_id: &str) -> u8 {
    match ops::force_unlock(&Workspace::load(dir).0, lock_id) {
        Ok(holder) => {
            let was = holder.map(|h| format!(" (it was held by {h})"));
            outln!(
                "terrane state has been successfully unlocked!{}",
                was.unwrap_or_default()
            );
            0
        }
        Err(e) => fail(e),
    }
}

/// `terrane workspace ...`, with Terraform's messages.
fn workspace_cmd(dir: &Path, c: crate::args::WorkspaceCommand) -> u8 {
    use crate::args::WorkspaceCommand as W;
    use terrane_workspace::workspaces::{run, Action};
    let action = match c {
        W::List => Action::List,
        W::Show => Action::Show,
        W::New { name } => Action::New(name),
        W::Select { name, or_create } => Action::Select(name, or_create),
        W::Delete { name, force } => Action::Delete(name, force),
    };
    match run(&Workspace::load(dir).0, action) {
        Ok(text) => {
            outln!("{text}");
            0
        }
        Err(e) => fail(e),
    }
}

/// `terrane console`: one expression per line; a prompt only on a terminal.
async fn console(dir: &Path, vars: &VarArgs, color: bool) -> u8 {
    use std::io::IsTerminal;
    let Some(mut ws) = load(dir, color).await else {
        return 1;
    };
    let (term, w) = (std::io::stdin().is_terminal(), warner(color));
    let io = (
        std::io::stdin().lock(),
        &mut std::io::stdout(),
        term.then_some("> "),
    );
    let r = ops::console(&mut ws, &vars.inputs(), &w, io);
    u8::from(!or_return!(r.map_err(|e| report(e, &ws.sources, color))) && !term)
}
