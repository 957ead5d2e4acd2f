//! Human-readable plan output: a colored, aligned diff per resource instance, the
//! reason for each replacement, changes made outside terrane, and a summary line.
//! Sensitive values are always printed as `(sensitive value)`.

use std::collections::BTreeSet;
use std::fmt::Write;

use terrane_core::{ResourceMode, Value};

use crate::plan::{Action, OutputChange, Plan, ResourceChange};

#[derive(Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    pub fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }

    pub fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }

    pub fn green(&self, s: &str) -> String {
        self.paint("32", s)
    }

    pub fn red(&self, s: &str) -> String {
        self.paint("31", s)
    }

    pub fn yellow(&self, s: &str) -> String {
        self.paint("33", s)
    }

    pub fn cyan(&self, s: &str) -> String {
        self.paint("36", s)
    }

    fn symbol(&self, action: Action) -> String {
        match action {
            Action::Create => self.green("  +"),
            Action::Delete => self.red("  -"),
            Action::Update => self.yellow("  ~"),
            Action::DeleteThenCreate => format!("{}{}{}", self.red("-"), "/", self.green("+")),
            Action::CreateThenDelete => format!("{}{}{}", self.green("+"), "/", self.red("-")),
            Action::Read => self.cyan(" <="),
            Action::NoOp => "   ".to_string(),
            Action::Forget => "  .".to_string(),
        }
    }
}

fn scalar(v: &Value) -> String {
    scalar_at(v, 6)
}

/// Renders a scalar; multi-line strings become an indented heredoc.
fn scalar_at(v: &Value, indent: usize) -> String {
    match v {
        Value::Sensitive(_) => "(sensitive value)".into(),
        Value::Unknown => "(known after apply)".into(),
        Value::String(s) if s.contains('\n') => {
            let pad = " ".repeat(indent + 4);
            let body: Vec<String> = s
                .trim_end_matches('\n')
                .lines()
                .map(|l| {
                    if l.is_empty() {
                        String::new()
                    } else {
                        format!("{pad}{l}")
                    }
                })
                .collect();
            format!("<<-EOT\n{}\n{}EOT", body.join("\n"), " ".repeat(indent + 2))
        }
        Value::String(s) => format!("{s:?}"),
        Value::Number(n) => n.to_string(),
        other => other.to_display(),
    }
}

/// The lines of `before` and `after` marked ' ' (in both), '-' (only before) or '+'
/// (only after), by their longest common subsequence; texts too long for that are
/// shown as all removed, then all added.
fn line_diff<'a>(before: &'a str, after: &'a str) -> Vec<(char, &'a str)> {
    let b: Vec<&str> = before.trim_end_matches('\n').lines().collect();
    let a: Vec<&str> = after.trim_end_matches('\n').lines().collect();
    if b.len().saturating_mul(a.len()) > 1_000_000 {
        return b
            .iter()
            .map(|l| ('-', *l))
            .chain(a.iter().map(|l| ('+', *l)))
            .collect();
    }
    // lcs[i][j]: the common subsequence length of b[i..] and a[j..].
    let mut lcs = vec![vec![0u32; a.len() + 1]; b.len() + 1];
    for i in (0..b.len()).rev() {
        for j in (0..a.len()).rev() {
            lcs[i][j] = if b[i] == a[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < b.len() || j < a.len() {
        if i < b.len() && j < a.len() && b[i] == a[j] {
            out.push((' ', b[i]));
            i += 1;
            j += 1;
        } else if i < b.len() && (j == a.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push(('-', b[i]));
            i += 1;
        } else {
            out.push(('+', a[j]));
            j += 1;
        }
    }
    out
}

fn is_nested(v: &Value) -> bool {
    matches!(v, Value::Map(m) if !m.is_empty())
}

/// Writes the diff of one attribute (recursing into objects).
#[allow(clippy::too_many_arguments)]
fn attr_diff(
    out: &mut String,
    st: Style,
    indent: usize,
    name: &str,
    width: usize,
    before: Option<&Value>,
    after: Option<&Value>,
    forces: bool,
) {
    let pad = " ".repeat(indent);
    let note = if forces {
        st.red(" # forces replacement")
    } else {
        String::new()
    };
    let label = format!("{name:<width$}");
    match (before, after) {
        (None, Some(a)) | (Some(Value::Null), Some(a)) => {
            if a.is_null() {
                return;
            }
            if is_nested(a) {
                let _ = writeln!(out, "{pad}{} {label} = {{{note}", st.green("+"));
                object_lines(out, st, indent + 4, None, Some(a));
                let _ = writeln!(out, "{pad}  }}");
            } else {
                let _ = writeln!(
                    out,
                    "{pad}{} {label} = {}{note}",
                    st.green("+"),
                    scalar_at(a, indent)
                );
            }
        }
        (Some(b), None) | (Some(b), Some(Value::Null)) => {
            if b.is_null() {
                return;
            }
            if is_nested(b) {
                let _ = writeln!(out, "{pad}{} {label} = {{{note}", st.red("-"));
                object_lines(out, st, indent + 4, Some(b), None);
                let _ = writeln!(out, "{pad}  }} -> null");
            } else {
                let _ = writeln!(
                    out,
                    "{pad}{} {label} = {} -> null{note}",
                    st.red("-"),
                    scalar_at(b, indent)
                );
            }
        }
        (Some(b), Some(a)) => {
            if b.same_as(a)
                && a.is_wholly_known()
                && matches!(b, Value::Sensitive(_)) == matches!(a, Value::Sensitive(_))
            {
                return;
            }
            if is_nested(b) && is_nested(a) {
                let _ = writeln!(out, "{pad}{} {label} = {{{note}", st.yellow("~"));
                object_lines(out, st, indent + 4, Some(b), Some(a));
                let _ = writeln!(out, "{pad}  }}");
            } else if let (Value::String(bs), Value::String(as_)) = (b, a) {
                if !bs.contains('\n') && !as_.contains('\n') {
                    let _ = writeln!(
                        out,
                        "{pad}{} {label} = {bs:?} -> {as_:?}{note}",
                        st.yellow("~")
                    );
                    return;
                }
                // Multi-line text: one heredoc with the lines that changed marked.
                let _ = writeln!(out, "{pad}{} {label} = <<-EOT{note}", st.yellow("~"));
                let inner = " ".repeat(indent + 4);
                for (mark, line) in line_diff(bs, as_) {
                    let _ = match mark {
                        '-' => writeln!(out, "{inner}{} {line}", st.red("-")),
                        '+' => writeln!(out, "{inner}{} {line}", st.green("+")),
                        _ => writeln!(out, "{inner}  {line}"),
                    };
                }
                let _ = writeln!(out, "{pad}  EOT");
            } else {
                let _ = writeln!(
                    out,
                    "{pad}{} {label} = {} -> {}{note}",
                    st.yellow("~"),
                    scalar_at(b, indent),
                    scalar_at(a, indent)
                );
            }
        }
        (None, None) => {}
    }
}

fn object_lines(
    out: &mut String,
    st: Style,
    indent: usize,
    before: Option<&Value>,
    after: Option<&Value>,
) {
    let bm = before.and_then(Value::as_map);
    let am = after.and_then(Value::as_map);
    let mut keys: BTreeSet<&String> = BTreeSet::new();
    keys.extend(bm.into_iter().flat_map(|m| m.keys()));
    keys.extend(am.into_iter().flat_map(|m| m.keys()));
    let quoted: Vec<String> = keys.iter().map(|k| format!("{k:?}")).collect();
    let width = quoted.iter().map(|k| k.chars().count()).max().unwrap_or(0);
    for (k, q) in keys.iter().zip(&quoted) {
        attr_diff(
            out,
            st,
            indent,
            q,
            width,
            bm.and_then(|m| m.get(*k)),
            am.and_then(|m| m.get(*k)),
            false,
        );
    }
}

fn heading(c: &ResourceChange) -> String {
    let what = match c.action {
        Action::Create => "will be created".to_string(),
        Action::Update => "will be updated in-place".to_string(),
        Action::Delete => match c.reason.as_deref() {
            Some("delete_because_no_resource_config") => {
                "will be destroyed\n  # (because it is no longer in the configuration)".to_string()
            }
            Some("delete_because_no_module") => format!(
                "will be destroyed\n  # (because {} is not in configuration)",
                c.addr.resource.module
            ),
            Some("delete_because_count_index") => format!(
                "will be destroyed\n  # (because index {} is out of range for count)",
                c.addr.key
            ),
            Some("delete_because_each_key") => format!(
                "will be destroyed\n  # (because key {} is not in for_each map)",
                c.addr.key
            ),
            _ => "will be destroyed".to_string(),
        },
        Action::DeleteThenCreate | Action::CreateThenDelete => match c.reason.as_deref() {
            Some("replace_by_triggers") => {
                "will be replaced due to changes in replace_triggered_by".to_string()
            }
            Some("replace_by_request") => "will be replaced, as requested".to_string(),
            Some("replace_because_tainted") => "is tainted, so must be replaced".to_string(),
            _ => "must be replaced".to_string(),
        },
        Action::Read => {
            let why = match c.reason.as_deref() {
                Some("read_because_config_unknown") => "config refers to values not yet known",
                Some("read_because_dependency_pending") => {
                    "depends on a resource or a module with changes pending"
                }
                Some("read_because_check_nested") => "config will be reloaded to verify a check block",
                _ => return format!("  # {} will be read during apply", c.addr),
            };
            format!("will be read during apply\n  # ({why})")
        }
        Action::Forget => "will no longer be managed by terrane, but will not be destroyed\n  # (destroy = false is set in the configuration)".to_string(),
        Action::NoOp => "has no changes".to_string(),
    };
    format!("  # {} {what}", c.addr)
}

/// Renders one resource instance change.
pub fn render_change(c: &ResourceChange, st: Style) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", st.bold(&heading(c)));
    let keyword = if c.addr.resource.mode == ResourceMode::Data {
        "data"
    } else {
        "resource"
    };
    let _ = writeln!(
        out,
        "{} {keyword} {:?} {:?} {{",
        st.symbol(c.action),
        c.addr.resource.type_name,
        c.addr.resource.name
    );
    let before = if c.action == Action::Create || c.action == Action::Read {
        None
    } else {
        c.before.as_ref()
    };
    let after = if c.action == Action::Delete {
        None
    } else {
        c.after.as_ref()
    };
    let bm = before.and_then(Value::as_map);
    let am = after.and_then(Value::as_map);
    let mut keys: BTreeSet<&String> = BTreeSet::new();
    keys.extend(bm.into_iter().flat_map(|m| m.keys()));
    keys.extend(am.into_iter().flat_map(|m| m.keys()));
    let visible: Vec<&String> = keys
        .into_iter()
        .filter(|k| {
            let b = bm.and_then(|m| m.get(*k));
            let a = am.and_then(|m| m.get(*k));
            !(b.is_none_or(Value::is_null) && a.is_none_or(Value::is_null))
        })
        .collect();
    let width = visible.iter().map(|k| k.chars().count()).max().unwrap_or(0);
    let mut hidden = 0;
    for k in visible {
        let b = bm.and_then(|m| m.get(k));
        let a = am.and_then(|m| m.get(k));
        if let (Some(b), Some(a)) = (b, a) {
            if b.same_as(a) && a.is_wholly_known() && c.action != Action::Delete {
                hidden += 1;
                continue;
            }
        }
        let forces = c.replace_paths.iter().any(|p| p == k);
        attr_diff(&mut out, st, 6, k, width, b, a, forces);
    }
    if hidden > 0 {
        let _ = writeln!(
            out,
            "        # ({hidden} unchanged attribute{} hidden)",
            if hidden == 1 { "" } else { "s" }
        );
    }
    for p in c.replace_paths.iter().filter(|p| p.starts_with('(')) {
        let _ = writeln!(
            out,
            "        {}",
            st.red(&format!("# forces replacement {p}"))
        );
    }
    let _ = writeln!(out, "    }}");
    out
}

fn render_output(o: &OutputChange, st: Style, width: usize) -> Option<String> {
    let shown = |v: &Value| {
        if o.sensitive {
            "(sensitive value)".to_string()
        } else {
            scalar(v)
        }
    };
    let line = match (o.action(), &o.before, &o.after) {
        (Action::NoOp, _, _) => return None,
        (Action::Create, _, Some(a)) => {
            format!("{} {:<width$} = {}", st.green("  +"), o.name, shown(a))
        }
        (Action::Delete, Some(b), _) => format!(
            "{} {:<width$} = {} -> null",
            st.red("  -"),
            o.name,
            shown(b)
        ),
        (_, Some(b), Some(a)) => format!(
            "{} {:<width$} = {} -> {}",
            st.yellow("  ~"),
            o.name,
            shown(b),
            shown(a)
        ),
        _ => return None,
    };
    Some(line)
}

/// Renders the whole plan for a terminal.
pub fn render_plan(plan: &Plan, st: Style) -> String {
    let mut out = String::new();
    if !plan.drift.is_empty() {
        let _ = writeln!(
            out,
            "\n{}\n",
            st.bold("Note: Objects have changed outside of terrane")
        );
        let _ = writeln!(out, "terrane detected the following changes made outside of terrane since the last apply:\n");
        for d in &plan.drift {
            match &d.after {
                None => {
                    let _ = writeln!(out, "  # {} has been deleted", d.addr);
                }
                Some(a) => {
                    let _ = writeln!(out, "  # {} has changed", d.addr);
                    let c = ResourceChange {
                        addr: d.addr.clone(),
                        provider: String::new(),
                        action: Action::Update,
                        before: Some(d.before.clone()),
                        after: Some(a.clone()),
                        replace_paths: Vec::new(),
                        reason: None,
                        dependencies: Vec::new(),
                        create_before_destroy: false,
                    };
                    let body = render_change(&c, st);
                    // Skip the heading line; the note above says what happened.
                    for line in body.lines().skip(1) {
                        let _ = writeln!(out, "{line}");
                    }
                }
            }
        }
        let _ = writeln!(out);
    }
    let changes: Vec<&ResourceChange> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp)
        .collect();
    let outputs: Vec<String> = {
        let width = plan
            .outputs
            .iter()
            .map(|o| o.name.chars().count())
            .max()
            .unwrap_or(0);
        plan.outputs
            .iter()
            .filter_map(|o| render_output(o, st, width))
            .collect()
    };
    if plan.refresh_only {
        let _ = if plan.drift.is_empty() {
            writeln!(out, "\n{} Your infrastructure still matches the configuration.\n\nterrane has checked that the real remote objects still match the result of your most recent changes, and found no differences.", st.green(&st.bold("No changes.")))
        } else {
            writeln!(out, "\nThis is a refresh-only plan, so terrane will not take any actions to undo these. If you were expecting these changes then you can apply this plan to record the updated values in the state without changing any remote objects.")
        };
        return out;
    }
    if changes.is_empty() && outputs.is_empty() && plan.moves.is_empty() && plan.imports.is_empty()
    {
        let _ = writeln!(
            out,
            "\n{} Your infrastructure matches the configuration.\n",
            st.green(&st.bold("No changes."))
        );
        let _ = writeln!(out, "terrane compared your real infrastructure against your configuration and found no differences, so no changes are needed.");
        return out;
    }
    if (!plan.moves.is_empty() || !plan.imports.is_empty()) && changes.is_empty() {
        let _ = writeln!(out, "\nterrane will perform the following actions:\n");
    }
    for m in &plan.moves {
        let _ = writeln!(out, "  # {} has moved to {}", m.from, m.to);
    }
    for (a, id) in &plan.imports {
        let _ = writeln!(out, "  # {a} will be imported (id {id:?})");
    }
    if !changes.is_empty() {
        let used: BTreeSet<Action> = changes.iter().map(|c| c.action).collect();
        let _ = writeln!(
            out,
            "\nterrane will perform the following actions. Symbols:"
        );
        for (a, text) in [
            (Action::Create, "create"),
            (Action::Update, "update in-place"),
            (Action::Delete, "destroy"),
            (
                Action::DeleteThenCreate,
                "destroy and then create replacement",
            ),
            (
                Action::CreateThenDelete,
                "create replacement and then destroy",
            ),
            (Action::Read, "read (data resources)"),
        ] {
            if used.contains(&a) {
                let _ = writeln!(out, "{} {text}", st.symbol(a));
            }
        }
        let _ = writeln!(out);
        for c in &changes {
            if c.action == Action::Forget {
                // The object stays as it is: shown unchanged.
                let kept = ResourceChange {
                    after: c.before.clone(),
                    ..(*c).clone()
                };
                let _ = writeln!(out, "{}", render_change(&kept, st));
                continue;
            }
            let _ = writeln!(out, "{}", render_change(c, st));
        }
    }
    let forgotten: Vec<String> = changes
        .iter()
        .filter(|c| c.action == Action::Forget)
        .map(|c| format!(" - {}", c.addr))
        .collect();
    if !forgotten.is_empty() {
        let _ = writeln!(out, "{}\n\nIf you apply this plan, terrane will discard its tracking information for the following objects, but it will not delete them:\n{}\n\nAfter applying this plan, terrane will no longer manage these objects. You will need to import them to manage them again.\n", st.yellow(&st.bold("Warning: Some objects will no longer be managed by terrane")), forgotten.join("\n"));
    }
    let (add, change, destroy) = plan.counts();
    let imports = match plan.imports.len() {
        0 => String::new(),
        n => format!("{n} to import, "),
    };
    let _ = writeln!(
        out,
        "{} {imports}{add} to add, {change} to change, {destroy} to destroy.",
        st.bold("Plan:")
    );
    if !outputs.is_empty() {
        let _ = writeln!(out, "\nChanges to Outputs:");
        for o in outputs {
            let _ = writeln!(out, "{o}");
        }
    }
    out
}

/// A state value as `name = value` lines, nested maps as blocks.
fn value_lines(out: &mut String, v: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match v {
        Value::Map(m) => {
            // Null attributes are not shown, so they do not count for the alignment.
            let width = m
                .iter()
                .filter(|(_, x)| !x.is_null())
                .map(|(k, _)| k.chars().count())
                .max()
                .unwrap_or(0);
            for (k, x) in m {
                if x.is_null() {
                    continue;
                }
                match x {
                    Value::Map(inner) if !inner.is_empty() => {
                        let _ = writeln!(out, "{pad}{k:<width$} = {{");
                        value_lines(out, x, indent + 4);
                        let _ = writeln!(out, "{pad}}}");
                    }
                    _ => {
                        let _ = writeln!(out, "{pad}{k:<width$} = {}", x.to_display());
                    }
                }
            }
        }
        other => {
            let _ = writeln!(out, "{pad}{}", other.to_display());
        }
    }
}

/// Renders one instance like a resource block, sensitive values redacted.
pub fn render_instance(inst: &terrane_state::InstanceState) -> String {
    let mut out = String::new();
    let tainted = if inst.meta.tainted { " (tainted)" } else { "" };
    let _ = writeln!(out, "# {}:{tainted}", inst.addr);
    let kw = if inst.addr.resource.mode == terrane_core::ResourceMode::Data {
        "data"
    } else {
        "resource"
    };
    let _ = writeln!(
        out,
        "{kw} {:?} {:?} {{",
        inst.addr.resource.type_name, inst.addr.resource.name
    );
    value_lines(&mut out, &inst.value, 4);
    let _ = writeln!(out, "}}");
    out
}

#[cfg(test)]
mod line_diff_tests {
    use super::*;

    #[test]
    fn a_changed_multi_line_value_is_one_heredoc_with_its_changed_lines() {
        let mut out = String::new();
        attr_diff(
            &mut out,
            Style { color: false },
            6,
            "content",
            7,
            Some(&Value::String("one\ntwo\nthree\n".into())),
            Some(&Value::String("one\n2\nthree\nfour\n".into())),
            false,
        );
        assert_eq!(
            out,
            "      ~ content = <<-EOT\n            one\n          - two\n          + 2\n            three\n          + four\n        EOT\n"
        );
        let mut out = String::new();
        attr_diff(
            &mut out,
            Style { color: false },
            6,
            "content",
            7,
            Some(&Value::String("hello\nworld\n".into())),
            Some(&Value::String("tampered".into())),
            false,
        );
        assert!(!out.contains("EOT ->"), "{out}");
        assert!(
            out.contains("- hello") && out.contains("+ tampered"),
            "{out}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use terrane_core::{InstanceAddr, Value};

    #[test]
    fn replacement_names_forcing_attribute_and_hides_secrets() {
        let c = ResourceChange {
            addr: InstanceAddr::parse("local_file.f").unwrap(),
            provider: "provider.local".into(),
            action: Action::DeleteThenCreate,
            before: Some(Value::map([
                ("filename", Value::from("a.txt")),
                ("content", Value::from("old")),
                ("id", Value::from("abc")),
                ("secret", Value::from("s1").into_sensitive()),
            ])),
            after: Some(Value::map([
                ("filename", Value::from("a.txt")),
                ("content", Value::from("new")),
                ("id", Value::Unknown),
                ("secret", Value::from("s2").into_sensitive()),
            ])),
            replace_paths: vec!["content".into()],
            reason: Some("replace_because_cannot_update".into()),
            dependencies: vec![],
            create_before_destroy: false,
        };
        let out = render_change(&c, Style { color: false });
        insta::assert_snapshot!(out, @r###"
          # local_file.f must be replaced
        -/+ resource "local_file" "f" {
              ~ content  = "old" -> "new" # forces replacement
              ~ id       = "abc" -> (known after apply)
              ~ secret   = (sensitive value) -> (sensitive value)
                # (1 unchanged attribute hidden)
            }
        "###);
        assert!(!out.contains("s1") && !out.contains("s2"));
    }
}

/// The outputs recorded in `state`, one `name = value` line each (sensitive ones as
/// `(sensitive value)`), the `=` aligned when `align` (after an apply; `terrane output`
/// lists them unaligned, as Terraform does).
pub fn render_outputs(state: &terrane_state::Snapshot, align: bool) -> String {
    let width = if align {
        state
            .outputs
            .keys()
            .map(|k| k.chars().count())
            .max()
            .unwrap_or(0)
    } else {
        0
    };
    let mut out = String::new();
    for (k, o) in &state.outputs {
        let v = if o.sensitive {
            "(sensitive value)".to_string()
        } else {
            o.value.to_display()
        };
        let _ = writeln!(out, "{k:<width$} = {v}");
    }
    out
}

/// The "Outputs:" section after an apply or in `terrane show` (empty without outputs).
pub fn render_outputs_section(state: &terrane_state::Snapshot, st: Style) -> String {
    if state.outputs.is_empty() {
        return String::new();
    }
    format!(
        "\n{}\n\n{}",
        st.bold("Outputs:"),
        render_outputs(state, true)
    )
}

/// The current state as `terrane show` prints it: every instance as a block, then
/// the outputs.
pub fn render_state(state: &terrane_state::Snapshot, st: Style) -> String {
    if state.resources.is_empty() && state.outputs.is_empty() {
        return "The state is empty. Nothing is managed yet.\n".to_string();
    }
    let mut out = String::new();
    for inst in state.resources.values() {
        out.push_str(&render_instance(inst));
        out.push('\n');
    }
    out + &render_outputs_section(state, st)
}
