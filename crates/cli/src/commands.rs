//! One function per command. Each returns the process exit code.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use terrane_core::{Diagnostic, Diagnostics, InstanceAddr, SourceMap};
use terrane_engine::model::{self, Model, NodeKind};
use terrane_engine::render::{render_plan, Style};
use terrane_engine::run::Run;
use terrane_engine::{json, planfile, Plan, PlanOptions};
use terrane_state::{Change, InstanceState, SerialStatus, Snapshot};

use crate::state_cmd;
use crate::ui::{confirm, print_diags, Printer};
use crate::workspace::{LockGuard, Workspace};
use crate::{Command, PlanArgs, VarArgs};

pub const EXIT_INTERRUPTED: u8 = 130;

pub async fn run(command: Command, dir: PathBuf, color: bool) -> u8 {
    let style = Style { color };
    match command {
        Command::Validate { json } => validate(&dir, json, color),
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
            };
            apply_cmd(&dir, None, &args, auto_approve, style).await
        }
        Command::Show { planfile, json } => show(&dir, planfile.as_deref(), json, style),
        Command::Output { name, json, raw } => output(&dir, name.as_deref(), json, raw),
        Command::Graph => graph(&dir, color),
        Command::Fmt {
            check,
            recursive,
            paths,
        } => fmt(&dir, check, recursive, &paths),
        Command::State(sc) => state_cmd::run(&dir, sc, style),
        Command::Secret(sc) => crate::secret_cmd::run(&dir, sc),
        Command::Backup(bc) => crate::backup_cmd::run(&dir, bc),
        Command::Restore {
            backup,
            from,
            identity,
        } => {
            let (ws, _) = crate::workspace::Workspace::load(&dir);
            if let Some(file) = identity {
                if let Err(e) = crate::backup_cmd::install_identity(&ws, &file) {
                    return fail(format!("the restore failed: {e}"));
                }
            }
            match crate::backup_cmd::restore(&ws, &backup, from.as_deref()) {
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
            action: Some(crate::AgentAction::Stop),
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
        Command::Policy(crate::PolicyCommand::Check {
            planfile,
            args,
            json,
        }) => crate::policy_cmd::check_cmd(&dir, planfile.as_deref(), &args, json, style).await,
        Command::Policy(crate::PolicyCommand::Status { json }) => {
            crate::policy_cmd::status_cmd(&dir, json, style)
        }
        Command::Policy(crate::PolicyCommand::Test { policy, verbose }) => {
            crate::policy_cmd::test_cmd(&dir, &policy, verbose, style)
        }
        Command::Cost(c) => cost(&dir, c, style).await,
    }
}

async fn cost(dir: &Path, c: crate::CostCommand, style: Style) -> u8 {
    use crate::cost_cmd::{self, Source};
    let plan_args = |o: &crate::CostOpts| PlanArgs {
        vars: o.vars.clone(),
        targets: Vec::new(),
        refresh: o.refresh,
        destroy: false,
        parallelism: 10,
        policy: Vec::new(),
        override_policy: None,
    };
    match c.action {
        None => {
            let args = plan_args(&c.opts);
            let source = match &c.opts.planfile {
                Some(p) => Source::File(p),
                None => Source::Fresh(&args),
            };
            cost_cmd::cost_cmd(dir, source, &c.opts.prices, c.opts.format, style).await
        }
        Some(crate::CostAction::Diff { compare_to, opts }) => {
            let args = plan_args(&opts);
            let source = match &opts.planfile {
                Some(p) => Source::File(p),
                None => Source::Fresh(&args),
            };
            cost_cmd::diff_cmd(dir, &compare_to, source, &opts.prices, opts.format, style).await
        }
        Some(crate::CostAction::Catalog { prices }) => cost_cmd::catalog_cmd(dir, &prices),
    }
}

pub fn fail(msg: impl std::fmt::Display) -> u8 {
    eprintln!("Error: {msg}");
    1
}

/// Loads the configuration, printing diagnostics; None when it has errors.
pub fn load(dir: &Path, color: bool) -> Option<Workspace> {
    let (ws, diags) = Workspace::load(dir);
    print_diags(&diags, &ws.sources, color);
    if diags.has_errors() {
        None
    } else {
        Some(ws)
    }
}

fn build_model<'c>(ws: &'c Workspace, color: bool) -> Option<Model<'c>> {
    let (m, diags) = model::build(&ws.module, &ws.registry);
    print_diags(&diags, &ws.sources, color);
    if diags.has_errors() {
        None
    } else {
        Some(m)
    }
}

fn validate(dir: &Path, as_json: bool, color: bool) -> u8 {
    let (ws, mut diags) = Workspace::load(dir);
    if !diags.has_errors() {
        let (_, d) = model::build(&ws.module, &ws.registry);
        let structural = d.has_errors();
        diags.extend(d);
        // Expressions are checked once the references they use are known to be valid.
        if !structural {
            diags.extend(terrane_lang::check::check_expressions(&ws.module));
        }
        diags.extend(crate::policy_cmd::validate_policies(&ws));
    }
    if as_json {
        let list: Vec<serde_json::Value> = diags
            .iter()
            .map(|d| {
                let range = d.location(&ws.sources).map(|(file, pos)| serde_json::json!({"filename": file.to_string(), "start": {"line": pos.line, "column": pos.column}}));
                serde_json::json!({
                    "severity": if d.severity == terrane_core::Severity::Error { "error" } else { "warning" },
                    "summary": d.summary, "detail": d.detail, "range": range,
                })
            })
            .collect();
        let errors = diags
            .iter()
            .filter(|d| d.severity == terrane_core::Severity::Error)
            .count();
        let doc = serde_json::json!({
            "format_version": "1.0", "valid": errors == 0, "error_count": errors,
            "warning_count": diags.0.len() - errors, "diagnostics": list,
        });
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

fn parse_targets(targets: &[String]) -> Result<Vec<InstanceAddr>, Diagnostics> {
    let mut out = Vec::new();
    let mut diags = Diagnostics::new();
    for t in targets {
        match InstanceAddr::parse(t) {
            Ok(a) => out.push(a),
            Err(e) => diags.push(Diagnostic::error("Invalid target address", format!("{e}. A target looks like aws_instance.web, module.net.aws_subnet.a[0] or local_file.f[\"key\"]."))),
        }
    }
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(out)
    }
}

async fn make_plan(
    ws: &mut Workspace,
    args: &PlanArgs,
    prior: &Snapshot,
    observer: &dyn terrane_engine::Observer,
    cancel: &AtomicBool,
    color: bool,
) -> Option<Plan> {
    let vars = match ws.variables(&args.vars) {
        Ok(v) => v,
        Err(d) => {
            print_diags(&d, &ws.sources, color);
            return None;
        }
    };
    let targets = match parse_targets(&args.targets) {
        Ok(t) => t,
        Err(d) => {
            print_diags(&d, &ws.sources, color);
            return None;
        }
    };
    let digest = ws.config_digest();
    let started = std::time::Instant::now();
    let ws: &Workspace = ws;
    let model = build_model(ws, color)?;
    if let Some(why) = ws.schema_only_provider() {
        eprintln!("Error: {why}");
        return None;
    }
    let opts = PlanOptions {
        destroy: args.destroy,
        refresh: args.refresh,
        targets,
        parallelism: args.parallelism.max(1),
        offline: false,
    };
    match terrane_engine::plan(
        &model,
        &ws.registry,
        &ws.dir,
        prior,
        &vars,
        &opts,
        observer,
        cancel,
    )
    .await
    {
        Ok(mut plan) => {
            plan.config_digest = digest;
            tracing::debug!(
                ms = started.elapsed().as_secs_f64() * 1e3,
                changes = plan.changes.len(),
                "plan made"
            );
            Some(plan)
        }
        Err(d) => {
            print_diags(&d, &ws.sources, color);
            None
        }
    }
}

/// [`make_plan`] with the plan's policy check started alongside: the check takes each
/// change as the engine settles it (a `-target` plan, whose changes are cut after
/// planning, is checked after planning).
async fn make_checked_plan(
    ws: &mut Workspace,
    args: &PlanArgs,
    prior: &Snapshot,
    printer: &Printer,
    cancel: &AtomicBool,
    color: bool,
) -> (crate::policy_cmd::PlanCheck, Option<Plan>) {
    let check = crate::policy_cmd::PlanCheck::start(ws, &args.policy, args.targets.is_empty());
    let plan = make_plan(ws, args, prior, &check.observer(printer), cancel, color).await;
    (check, plan)
}

/// Plans the configuration without state, credentials or reads (for `terrane scan`):
/// every resource is a create, data sources and variables without a value are unknown.
pub async fn offline_plan(ws: &mut Workspace, vars: &VarArgs, color: bool) -> Option<Plan> {
    let mut values = match ws.variables(vars) {
        Ok(v) => v,
        Err(d) => {
            print_diags(&d, &ws.sources, color);
            return None;
        }
    };
    for v in ws.module.variables.values() {
        if v.default.is_none() && !values.contains_key(&v.name) {
            values.insert(
                v.name.clone(),
                terrane_engine::RawVar::Value(terrane_core::Value::Unknown),
            );
        }
    }
    let ws: &Workspace = ws;
    let model = build_model(ws, color)?;
    let opts = PlanOptions {
        destroy: false,
        refresh: false,
        targets: Vec::new(),
        parallelism: 10,
        offline: true,
    };
    let printer = Printer::new(Style { color }, false);
    let cancel = AtomicBool::new(false);
    match terrane_engine::plan(
        &model,
        &ws.registry,
        &ws.dir,
        &Snapshot::default(),
        &values,
        &opts,
        &printer,
        &cancel,
    )
    .await
    {
        Ok(plan) => Some(plan),
        Err(d) => {
            print_diags(&d, &ws.sources, color);
            None
        }
    }
}

/// A plan of the configuration against the current state, printing nothing but errors.
/// A configuration whose provider is only a schema here is planned offline (every
/// resource a create), which is what pricing and policy checks can still use.
pub async fn plan_quietly(ws: &mut Workspace, args: &PlanArgs, style: Style) -> Option<Plan> {
    if ws.schema_only_provider().is_some() {
        eprintln!("Warning: this build has only the schema of a provider the configuration uses; the configuration is assessed as if nothing of it existed yet.");
        return offline_plan(ws, &args.vars, style.color).await;
    }
    let prior = state_cmd::read_existing(ws).ok()?;
    let printer = Printer::new(style, false);
    let cancel = AtomicBool::new(false);
    make_plan(ws, args, &prior, &printer, &cancel, style.color).await
}

async fn plan_cmd(
    dir: &Path,
    args: &PlanArgs,
    out: Option<&Path>,
    as_json: bool,
    detailed: bool,
    style: Style,
) -> u8 {
    let Some(mut ws) = load(dir, style.color) else {
        return 1;
    };
    let prior = match state_cmd::read_existing(&ws) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let cancel = Arc::new(AtomicBool::new(false));
    let _sig = install_interrupt(cancel.clone());
    let printer = Printer::new(style, !as_json);
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
        let path = if path.is_absolute() {
            path.to_path_buf()
        } else {
            dir.join(path)
        };
        let mut encoded = planfile::encode(&plan);
        if let Err(e) =
            crate::secret_cmd::seal_plan(dir, ws.module.terraform.encryption.as_ref(), &mut encoded)
        {
            return fail(format!("cannot encrypt the plan file: {e}"));
        }
        let text = serde_json::to_string(&encoded).unwrap_or_default();
        if let Err(e) = terrane_secrets::write_private(&path, text.as_bytes()) {
            return fail(format!(
                "cannot write the plan file {}: {e}",
                path.display()
            ));
        }
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
    let Some(mut ws) = load(dir, color) else {
        return 1;
    };
    let mut backend = match ws.open_backend() {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    let operation = if args.destroy { "destroy" } else { "apply" };
    let _lock = match LockGuard::acquire(backend.as_mut(), operation) {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let prior = match backend.read_current() {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    if !args.destroy {
        crate::agent_cmd::ensure_agent_for(&ws.dir, &prior).await;
    }
    let started_at = terrane_state::lock::now_secs();
    let cancel = Arc::new(AtomicBool::new(false));
    let _sig = install_interrupt(cancel.clone());
    let printer = Printer::new(style, true);
    let plan = match planfile_path {
        Some(p) => {
            let plan = match read_planfile(dir, Some(&ws), p) {
                Ok(plan) => plan,
                Err(code) => return code,
            };
            // A plan made before any state existed has no lineage; it fits an empty state.
            let fresh = plan.lineage.is_empty() && prior.serial == 0;
            if !fresh && (plan.lineage != prior.lineage || plan.prior_serial != prior.serial) {
                return fail(format!(
                    "Saved plan is stale.\n\nThe state changed since this plan was made (the plan was computed from serial {} of lineage {}; the state is now at serial {} of lineage {}). Applying it could undo or repeat those changes. Run terrane plan again and apply the new plan.",
                    plan.prior_serial, plan.lineage, prior.serial, prior.lineage
                ));
            }
            if plan.config_digest != ws.config_digest() {
                return fail("Saved plan does not match the configuration.\n\nThe configuration files changed since this plan was made. Run terrane plan again and apply the new plan.");
            }
            let check = crate::policy_cmd::PlanCheck::start(&ws, &args.policy, false);
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
                make_checked_plan(&mut ws, args, &prior, &printer, &cancel, color).await;
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
    let ws: &Workspace = &ws;
    let Some(model) = build_model(ws, color) else {
        return 1;
    };
    outln!();
    let ticker = printer.start_ticker();
    let outcome = terrane_engine::apply(
        &model,
        &ws.registry,
        &ws.dir,
        &plan,
        backend.as_mut(),
        args.parallelism.max(1),
        &printer,
        &cancel,
    )
    .await;
    ticker.abort();
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
        if let Ok(state) = backend.read_current() {
            print_outputs(&state, style);
        }
    } else {
        crate::agent_cmd::stop_if_started_for_nothing(&ws.dir, started_at).await;
    }
    0
}

/// Prints the plan (as text with its cost line, or as the JSON document) while the
/// policy check finishes on other threads. `None` (after saying so) if the check broke.
fn print_plan_and_check(
    ws: &Workspace,
    plan: &Plan,
    check: crate::policy_cmd::PlanCheck,
    style: Style,
    as_json: bool,
) -> Option<crate::policy_cmd::Checked> {
    let checked = std::thread::scope(|scope| {
        let checked = scope.spawn(|| check.finish(ws, plan));
        if as_json {
            outln!(
                "{}",
                serde_json::to_string(&crate::policy_cmd::document(plan, ws)).unwrap_or_default()
            );
        } else {
            out!("{}", render_plan(plan, style));
            crate::cost_cmd::print_plan_line(ws, plan, style);
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
    checked: crate::policy_cmd::Checked,
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
        if let Err(e) = crate::policy_cmd::record_override(ws, &gate.overridden, reason, operation)
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

/// Reads and decodes a saved plan (a relative path is taken from the working directory),
/// decrypting its sensitive values with the key providers of `ws` (loaded from `dir`
/// when not given and the file is encrypted).
pub fn read_planfile(dir: &Path, ws: Option<&Workspace>, p: &Path) -> Result<Plan, u8> {
    let p = if p.is_absolute() {
        p.to_path_buf()
    } else {
        dir.join(p)
    };
    let shown = p.display().to_string();
    let text = std::fs::read_to_string(&p)
        .map_err(|e| fail(format!("cannot read the plan file {shown}: {e}")))?;
    let Ok(mut j) = serde_json::from_str::<serde_json::Value>(&text) else {
        return planfile::decode(&text, &shown).map_err(fail);
    };
    if j.get("encryption").is_some() {
        let loaded;
        let ws = match ws {
            Some(ws) => ws,
            None => {
                loaded = Workspace::load(dir).0;
                &loaded
            }
        };
        crate::secret_cmd::open_plan(dir, ws.module.terraform.encryption.as_ref(), &mut j, &shown)
            .map_err(fail)?;
    }
    planfile::decode_json(&j, &shown).map_err(fail)
}

fn print_outputs(state: &Snapshot, style: Style) {
    if state.outputs.is_empty() {
        return;
    }
    outln!("\n{}\n", style.bold("Outputs:"));
    let width = state
        .outputs
        .keys()
        .map(|k| k.chars().count())
        .max()
        .unwrap_or(0);
    for (k, o) in &state.outputs {
        let v = if o.sensitive {
            "(sensitive value)".to_string()
        } else {
            o.value.to_display()
        };
        outln!("{k:<width$} = {v}");
    }
}

fn show(dir: &Path, planfile_path: Option<&Path>, as_json: bool, style: Style) -> u8 {
    if let Some(p) = planfile_path {
        let plan = match read_planfile(dir, None, p) {
            Ok(plan) => plan,
            Err(code) => return code,
        };
        if as_json {
            // As `plan --json` prints it, `configuration` included (tools that read
            // saved plans connect resources through it), when the configuration the
            // plan was made from is at hand.
            let (ws, diags) = Workspace::load(dir);
            let doc = if diags.has_errors() || plan.config_digest != ws.config_digest() {
                eprintln!("Warning: the configuration changed since this plan was made (or does not load), so the JSON has no configuration section. Run terrane plan --out again for one.");
                json::plan_json(&plan)
            } else {
                crate::policy_cmd::document(&plan, &ws)
            };
            outln!("{}", serde_json::to_string(&doc).unwrap_or_default());
        } else {
            out!("{}", render_plan(&plan, style));
        }
        return 0;
    }
    let state = match state_cmd::read_state(dir) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if as_json {
        outln!(
            "{}",
            serde_json::to_string(&json::state_json(&state)).unwrap_or_default()
        );
        return 0;
    }
    if state.resources.is_empty() && state.outputs.is_empty() {
        outln!("The state is empty. Nothing is managed yet.");
        return 0;
    }
    for inst in state.resources.values() {
        out!("{}", state_cmd::render_instance(inst));
        outln!();
    }
    print_outputs(&state, style);
    0
}

fn output(dir: &Path, name: Option<&str>, as_json: bool, raw: bool) -> u8 {
    let state = match state_cmd::read_state(dir) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match name {
        None => {
            if as_json {
                let doc: serde_json::Map<String, serde_json::Value> = state
                    .outputs
                    .iter()
                    .map(|(k, o)| (k.clone(), serde_json::json!({"sensitive": o.sensitive, "value": o.value.to_json_redacted()})))
                    .collect();
                outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
            } else if state.outputs.is_empty() {
                eprintln!("Warning: no outputs found. The state has no outputs; declare output blocks and run terrane apply.");
            } else {
                for (k, o) in &state.outputs {
                    let v = if o.sensitive {
                        "(sensitive value)".to_string()
                    } else {
                        o.value.to_display()
                    };
                    outln!("{k} = {v}");
                }
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
                outln!("{}", o.value.to_json_redacted());
            } else if o.sensitive {
                outln!("(sensitive value)");
            } else {
                outln!("{}", o.value.to_display());
            }
            0
        }
    }
}

fn graph(dir: &Path, color: bool) -> u8 {
    let Some(ws) = load(dir, color) else { return 1 };
    let Some(model) = build_model(&ws, color) else {
        return 1;
    };
    let mut out = String::from(
        "digraph terrane {\n  compound = \"true\"\n  newrank = \"true\"\n  rankdir = \"RL\"\n",
    );
    let mut nodes: Vec<(String, usize)> = (0..model.nodes.len())
        .map(|i| (model.describe(i), i))
        .collect();
    nodes.sort();
    for (name, i) in &nodes {
        let shape = match model.nodes[*i] {
            NodeKind::Resource(..) => "box",
            NodeKind::Provider(_) => "diamond",
            _ => "note",
        };
        out.push_str(&format!(
            "  {name:?} [label = {name:?}, shape = \"{shape}\"]\n"
        ));
    }
    let mut edges = Vec::new();
    for (name, i) in &nodes {
        for &d in model.graph.deps(*i) {
            edges.push(format!("  {name:?} -> {:?}\n", model.describe(d)));
        }
    }
    edges.sort();
    for e in edges {
        out.push_str(&e);
    }
    out.push_str("}\n");
    out!("{out}");
    0
}

fn fmt(dir: &Path, check: bool, recursive: bool, paths: &[PathBuf]) -> u8 {
    let mut files = Vec::new();
    let roots: Vec<PathBuf> = if paths.is_empty() {
        vec![dir.to_path_buf()]
    } else {
        paths
            .iter()
            .map(|p| {
                if p.is_absolute() {
                    p.clone()
                } else {
                    dir.join(p)
                }
            })
            .collect()
    };
    for r in roots {
        collect_tf(&r, recursive, &mut files);
    }
    files.sort();
    let mut unformatted = 0;
    let mut errors = 0;
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        let shown = f.strip_prefix(dir).unwrap_or(&f).display().to_string();
        match terrane_lang::fmt::format_source(&text) {
            Ok(formatted) if formatted != text => {
                unformatted += 1;
                outln!("{shown}");
                if !check {
                    if let Err(e) = terrane_secrets::write_private(&f, formatted.as_bytes()) {
                        eprintln!("Error: cannot write {shown}: {e}");
                        errors += 1;
                    }
                }
            }
            Ok(_) => {}
            Err(msg) => {
                let mut sources = SourceMap::default();
                sources.insert(shown.clone().into(), text.clone().into());
                eprintln!("Error: {shown} was not formatted because it does not parse: {msg}");
                errors += 1;
            }
        }
    }
    if errors > 0 {
        1
    } else if check && unformatted > 0 {
        3
    } else {
        0
    }
}

fn collect_tf(path: &Path, recursive: bool, out: &mut Vec<PathBuf>) {
    if path.is_file() {
        out.push(path.to_path_buf());
        return;
    }
    let Ok(rd) = std::fs::read_dir(path) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if p.is_dir() {
            if recursive && !name.starts_with('.') {
                collect_tf(&p, recursive, out);
            }
        } else if name.ends_with(".tf") || name.ends_with(".tfvars") {
            out.push(p);
        }
    }
}

async fn import(dir: &Path, address: &str, id: &str, vars: &VarArgs, style: Style) -> u8 {
    let color = style.color;
    let Some(mut ws) = load(dir, color) else {
        return 1;
    };
    let addr = match InstanceAddr::parse(address) {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    let root_vars = match ws.variables(vars) {
        Ok(v) => v,
        Err(d) => {
            print_diags(&d, &ws.sources, color);
            return 1;
        }
    };
    let mut backend = match ws.open_backend() {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    let _lock = match LockGuard::acquire(backend.as_mut(), "import") {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let state = match backend.read_current() {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    if state.resources.contains_key(&addr) {
        return fail(format!("Resource already managed: {addr} is already in state. To import it again, first run terrane state rm {addr}."));
    }
    let ws: &Workspace = &ws;
    let Some(model) = build_model(ws, color) else {
        return 1;
    };
    let Some(node) = model.node(&NodeKind::Resource(
        addr.resource.module.clone(),
        addr.resource.local_name(),
    )) else {
        return fail(format!(
            "Configuration for import target does not exist: the address {addr} is not declared in the configuration. Add a resource block for it first, e.g.\n\n  resource {:?} {:?} {{\n    # ...\n  }}",
            addr.resource.type_name, addr.resource.name
        ));
    };
    let Some(r) = model.resource(&addr.resource.module, &addr.resource.local_name()) else {
        return 1;
    };
    let Ok((_, schema)) = model::resource_schema(&ws.registry, r) else {
        return 1;
    };
    // Configure the resource's provider (evaluating whatever its configuration needs).
    let run = Run::new(&model, &ws.registry, &ws.dir);
    let paddr = model
        .resource_provider
        .get(&node)
        .cloned()
        .unwrap_or_default();
    let Some(pnode) = model.node(&NodeKind::Provider(paddr.clone())) else {
        return fail(format!("provider {paddr} not found"));
    };
    let needed = model.graph.dependency_closure(&[pnode]);
    for n in model.graph.topo_order() {
        if needed[n] && !run.visit_value_node(n, &root_vars) {
            print_diags(&run.diags.take(), &ws.sources, color);
            return 1;
        }
    }
    let Some(provider) = run.provider(&paddr) else {
        return fail(format!("provider {paddr} could not be configured"));
    };
    outln!(
        "{}: Importing from ID {id:?}...",
        style.bold(&addr.to_string())
    );
    let value = match provider.import(&addr.resource.type_name, id).await {
        Ok(v) => schema.mark_sensitive(v),
        Err(e) => return fail(format!("{addr}: import failed: {e}")),
    };
    let inst = InstanceState {
        addr: addr.clone(),
        provider: paddr,
        value,
        dependencies: model.resource_deps.get(&node).cloned().unwrap_or_default(),
        create_before_destroy: r.lifecycle.create_before_destroy,
    };
    let result = backend.begin("import").and_then(|serial| {
        backend.write(serial, &[Change::Put(inst)])?;
        backend.finish(serial, SerialStatus::Complete)
    });
    if let Err(e) = result {
        return fail(e);
    }
    outln!("{}: Import prepared!\n", style.bold(&addr.to_string()));
    outln!("{} The resource is now managed by terrane. Run terrane plan to see how the configuration differs from the imported object.", style.green(&style.bold("Import successful!")));
    0
}

fn force_unlock(dir: &Path, lock_id: &str) -> u8 {
    let (ws, _) = Workspace::load(dir);
    let mut backend = match ws.open_backend() {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    let holder = backend.current_lock().ok().flatten();
    match backend.force_unlock(lock_id) {
        Ok(()) => {
            outln!(
                "terrane state has been successfully unlocked!{}",
                holder
                    .map(|h| format!(" (it was held by {})", h.describe()))
                    .unwrap_or_default()
            );
            0
        }
        Err(e) => fail(format!(
            "{e}.{}",
            match backend.current_lock().ok().flatten() {
                Some(h) => format!(" The current lock is {} held by {}.", h.id, h.describe()),
                None => " The state is not locked.".into(),
            }
        )),
    }
}
