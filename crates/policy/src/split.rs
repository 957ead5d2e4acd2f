//! Which result rules read the plan one change at a time.
//!
//! Most policies written for plans have the shape "for some change, if it is wrong,
//! say so": every message comes from one entry of `input.resource_changes`. Such a
//! rule's messages over the whole plan are the union of its messages over any split
//! of the changes, so it can be evaluated on parts of the plan at once (on several
//! cores, or while the plan is still being made). Rules that look at the plan as a
//! whole — a count, two changes compared, the configuration — cannot.
//!
//! The test is syntactic and conservative, on regorus's syntax tree. A result rule
//! (`deny`, `violation`, `warn`) is per change when every one of its definitions in
//! its package is a partial set rule (`deny contains msg if` / `deny[msg]`), and each
//! body:
//! - names `input` exactly once, in a top-level `some x in input.resource_changes` or
//!   `x := input.resource_changes[_]` (an index variable could tell parts apart);
//! - has no `with` and no `else`;
//! - refers to no rule or function that reads `input` (directly or through others),
//!   and not to `data` at all when any rule reads `input`.
//!
//! A module that imports anything but `rego.v1` or `future.keywords` keeps all its
//! rules whole. Anything the test does not recognise is read whole, which is always
//! correct, only slower.

use std::collections::BTreeSet;

use serde_json::Value as Json;
use terrane_core::doc::Projection;

/// What the policies can read of each entry of `input.resource_changes`, from
/// regorus's syntax tree as JSON: the paths they name under a change, each with
/// everything below it.
///
/// A change is reached through a variable bound by `some x in input.resource_changes`
/// or `x := input.resource_changes[i]` (not `=`, which may compare), or as
/// `input.resource_changes[i]` itself, and through the parameter of a function of the
/// policies' own it is passed to (a plain parameter in every definition). Every use of
/// those must be a reference that starts with named fields (`x.change.after.tags[k]`
/// reads `change.after.tags`); anything else — the change passed to a builtin or
/// compared, its keys iterated, the collection used whole, `input` used whole, `with`,
/// `every`, an import — means every field, except as the element of an array
/// comprehension that is only counted. A name bound to a change anywhere counts as a
/// change wherever it appears, which only reads more.
pub fn change_projection(ast: &Json) -> Projection {
    let modules: Vec<&Json> = ast
        .as_array()
        .map(|m| m.iter().filter_map(|m| m.get("ast")).collect())
        .unwrap_or_default();
    if modules.iter().any(|m| imports_other(m)) {
        return Projection::all();
    }
    // Names of variables bound to one change.
    let mut names = BTreeSet::new();
    for m in &modules {
        each_object(m, &mut |o| {
            names.extend(binds_change(o).map(|(var, _)| var.to_string()))
        });
    }
    // A change passed to a function: the function's parameter holds it too.
    let funcs = functions(&modules);
    loop {
        let mut taken = Vec::new();
        for m in &modules {
            each_object(m, &mut |o| {
                if let Some((_, params)) = passed(o, &funcs, &names) {
                    taken.extend(params.into_iter().flatten().flatten());
                }
            });
        }
        let before = names.len();
        names.extend(taken.into_iter().map(str::to_string));
        if names.len() == before {
            break;
        }
    }
    // The classic syntax lets a rule bind the name `input` itself.
    if names.contains("input") {
        return Projection::all();
    }
    // `count` is the builtin unless a rule takes its name.
    let builtin_count = !modules.iter().any(|m| {
        m["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| rule_name(r).as_deref() == Some("count"))
    });
    let mut reach = Reach {
        names,
        funcs,
        builtin_count,
        projection: Projection::none(),
    };
    for m in &modules {
        if reach.walk(&m["rules"]).is_none() {
            return Projection::all();
        }
    }
    reach.projection
}

/// The user functions by name: for each definition, its parameters (`Some(name)` for
/// a plain variable). A name that some rule defines in any other way is left out.
type Functions = std::collections::BTreeMap<String, Vec<Vec<Option<String>>>>;

fn functions(modules: &[&Json]) -> Functions {
    let mut out = Functions::new();
    let mut other = BTreeSet::new();
    for m in modules {
        for r in m["rules"].as_array().into_iter().flatten() {
            let head = r.pointer("/Spec/head/Func");
            match head.and_then(|f| f.pointer("/refr/Var/value")?.as_str()) {
                Some(name) => {
                    let params = head
                        .and_then(|f| f["args"].as_array())
                        .into_iter()
                        .flatten()
                        .map(|p| {
                            p.pointer("/Var/value")
                                .and_then(Json::as_str)
                                .filter(|v| *v != "_")
                                .map(str::to_string)
                        })
                        .collect();
                    out.entry(name.to_string()).or_default().push(params);
                }
                None => {
                    other.extend(rule_name(r));
                }
            }
        }
    }
    out.retain(|name, _| !other.contains(name));
    out
}

/// The parameters that argument `i` of a call of `f` with `arity` arguments is bound
/// to, when every definition of `f` takes a plain variable there.
fn params_at<'f>(funcs: &'f Functions, f: &str, i: usize, arity: usize) -> Option<Vec<&'f str>> {
    funcs
        .get(f)?
        .iter()
        .map(|d| {
            if d.len() == arity {
                d[i].as_deref()
            } else {
                None
            }
        })
        .collect()
}

/// The parameters a change argument is bound to; `None` when it is not taken.
type Taken<'f> = Option<Vec<&'f str>>;

/// A call `f(..., x, ...)` of a user function with a change variable `x`: the
/// parameters that take it, which the walk treats as changes too. `None` otherwise.
fn passed<'j, 'f>(
    o: &'j serde_json::Map<String, Json>,
    funcs: &'f Functions,
    names: &BTreeSet<String>,
) -> Option<(&'j [Json], Vec<Taken<'f>>)> {
    let call = o.get("Call")?;
    let f = call.pointer("/fcn/Var/value")?.as_str()?;
    let args = call["params"].as_array()?;
    let params = args
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let var = a.pointer("/Var/value")?.as_str()?;
            names
                .contains(var)
                .then(|| params_at(funcs, f, i, args.len()))?
        })
        .collect();
    Some((args, params))
}

/// Calls `f` on every object of the tree under `e`, outermost first.
fn each_object<'j>(e: &'j Json, f: &mut impl FnMut(&'j serde_json::Map<String, Json>)) {
    match e {
        Json::Object(o) => {
            f(o);
            o.values().for_each(|v| each_object(v, f));
        }
        Json::Array(a) => a.iter().for_each(|v| each_object(v, f)),
        _ => {}
    }
}

/// The name of the variable `o` is, if it is one.
fn var_name(o: &serde_json::Map<String, Json>) -> Option<&str> {
    o.get("Var")?.get("value")?.as_str()
}

/// Whether a module imports anything but `rego.v1` or `future.keywords` (an import
/// could name `input` or its parts under another name).
fn imports_other(module: &Json) -> bool {
    module["imports"].as_array().is_some_and(|imports| {
        imports.iter().any(|i| {
            let p = path(&i["refr"]).unwrap_or_default();
            !(p.first().is_some_and(|f| f == "future") || p == ["rego", "v1"])
        })
    })
}

/// `some x in input.resource_changes` (with or without a key) or
/// `x := input.resource_changes[i]`: the variable, and the key or index expression.
fn binds_change(o: &serde_json::Map<String, Json>) -> Option<(&str, &Json)> {
    if let Some(some_in) = o.get("SomeIn") {
        let var = some_in.pointer("/value/Var/value")?.as_str()?;
        return (is_changes(&some_in["collection"]) && var != "_")
            .then_some((var, &some_in["key"]));
    }
    let assign = o.get("AssignExpr")?;
    // Only `:=` always binds a new variable: `x = ...` compares when `x` is bound
    // already (two changes that differ only in fields not built would look equal).
    if assign["op"] != "ColEq" {
        return None;
    }
    let var = assign.pointer("/lhs/Var/value")?.as_str()?;
    let brack = assign["rhs"].get("RefBrack")?;
    (is_changes(&brack["refr"]) && var != "_").then_some((var, &brack["index"]))
}

struct Reach {
    names: BTreeSet<String>,
    funcs: Functions,
    builtin_count: bool,
    projection: Projection,
}

impl Reach {
    /// Adds what `e` reads of a change; `None` when it may read anything.
    fn walk(&mut self, e: &Json) -> Option<()> {
        match e {
            Json::Object(o) => {
                if o.get("with_mods").is_some_and(|w| w != &Json::Null) || o.contains_key("Every") {
                    return None;
                }
                if let Some((_, key)) = binds_change(o) {
                    return self.walk(key);
                }
                if let Some(query) = self.counted(o) {
                    return self.walk(query);
                }
                // A change passed to a user function is read there, through the
                // parameter; other arguments are read here.
                if let Some((args, params)) = passed(o, &self.funcs, &self.names) {
                    let taken: Vec<bool> = params.iter().map(Option::is_some).collect();
                    return args
                        .iter()
                        .zip(taken)
                        .filter(|(_, taken)| !taken)
                        .try_for_each(|(a, _)| self.walk(a));
                }
                // A function's plain parameters are bindings, not uses.
                if let Some(head) = o.get("Func").and_then(Json::as_object) {
                    return head.iter().try_for_each(|(k, v)| match (k.as_str(), v) {
                        ("args", Json::Array(args)) => args
                            .iter()
                            .filter(|a| a.get("Var").is_none())
                            .try_for_each(|a| self.walk(a)),
                        _ => self.walk(v),
                    });
                }
                if o.contains_key("RefDot") || o.contains_key("RefBrack") {
                    return self.reference(e);
                }
                if let Some(v) = var_name(o) {
                    // A change, or the whole input, used as a value.
                    return (v != "input" && !self.names.contains(v)).then_some(());
                }
                o.values().try_for_each(|v| self.walk(v))
            }
            Json::Array(a) => a.iter().try_for_each(|v| self.walk(v)),
            _ => Some(()),
        }
    }

    /// `count([x | query])`: the number of answers, whatever `x` holds, so only the
    /// query reads anything. (Not a set: equal elements would count once.)
    fn counted<'j>(&self, o: &'j serde_json::Map<String, Json>) -> Option<&'j Json> {
        let call = o.get("Call")?;
        if !self.builtin_count || call.pointer("/fcn/Var/value")?.as_str()? != "count" {
            return None;
        }
        let [param] = call["params"].as_array()?.as_slice() else {
            return None;
        };
        let compr = param.get("ArrayCompr")?;
        compr["term"].get("Var").map(|_| &compr["query"])
    }

    /// A chain of `.field` and `[index]` on a root.
    fn reference(&mut self, e: &Json) -> Option<()> {
        // From the root out: each step's field name when it is a constant string.
        let mut steps: Vec<(Option<&str>, Option<&Json>)> = Vec::new();
        let mut root = e;
        loop {
            if let Some(d) = root.get("RefDot") {
                steps.push((d["field"].get(1).and_then(Json::as_str), None));
                root = &d["refr"];
            } else if let Some(b) = root.get("RefBrack") {
                let index = &b["index"];
                steps.push((
                    index.pointer("/String/value").and_then(Json::as_str),
                    Some(index),
                ));
                root = &b["refr"];
            } else {
                break;
            }
        }
        steps.reverse();
        for (_, index) in &steps {
            if let Some(index) = index {
                self.walk(index)?;
            }
        }
        let var = root.pointer("/Var/value").and_then(Json::as_str);
        let below = match var {
            Some("input") => match steps.first() {
                Some((Some("resource_changes"), _)) => match steps.get(1) {
                    // `input.resource_changes[i]...`: a change.
                    Some((None, Some(_))) => &steps[2..],
                    _ => return None,
                },
                Some((Some(_), _)) => return Some(()),
                _ => return None,
            },
            Some(v) if self.names.contains(v) => &steps[..],
            _ => return self.walk(root),
        };
        let fields: Vec<&str> = below.iter().map_while(|(field, _)| *field).collect();
        if fields.is_empty() {
            return None;
        }
        self.projection.add(&fields);
        Some(())
    }
}

/// `(package path, rule name)` of every result rule that reads one change at a time,
/// from regorus's syntax tree as JSON (`Engine::get_ast_as_json`).
/// The names of the rules each policy file declares, by the file's path.
pub fn rules_by_file(ast: &Json) -> std::collections::BTreeMap<String, BTreeSet<String>> {
    let mut out: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
    for entry in ast.as_array().into_iter().flatten() {
        let Some(file) = entry.pointer("/source/file").and_then(Json::as_str) else {
            continue;
        };
        let names = out.entry(file.to_string()).or_default();
        for r in entry["ast"]["rules"].as_array().into_iter().flatten() {
            names.extend(rule_name(r));
        }
    }
    out
}

pub fn per_change_rules(ast: &Json, results: &[&str]) -> BTreeSet<(String, String)> {
    let modules: Vec<&Json> = ast
        .as_array()
        .map(|m| m.iter().filter_map(|m| m.get("ast")).collect())
        .unwrap_or_default();
    // Every rule, with its package, name and whether its module imports anything.
    let mut rules: Vec<(String, String, bool, &Json)> = Vec::new();
    for m in &modules {
        let Some(package) = m.pointer("/package/refr").and_then(path) else {
            continue;
        };
        let package = format!("data.{}", package.join("."));
        let imports_other = imports_other(m);
        for r in m["rules"].as_array().into_iter().flatten() {
            if let Some(name) = rule_name(r) {
                rules.push((package.clone(), name, imports_other, r));
            }
        }
    }
    // Names of rules that read `input`, directly or through other rules (by bare
    // name, across packages: a local variable of the same name only makes this more
    // conservative).
    let mut tainted: BTreeSet<String> = BTreeSet::new();
    loop {
        let before = tainted.len();
        for (_, name, imports_other, r) in &rules {
            if tainted.contains(name) {
                continue;
            }
            let mut vars = BTreeSet::new();
            collect_vars(r, &mut vars);
            let reads = vars.contains("input")
                || *imports_other
                || vars.iter().any(|v| tainted.contains(v) && v != name)
                || (vars.contains("data") && !tainted.is_empty());
            if reads {
                tainted.insert(name.clone());
            }
        }
        if tainted.len() == before {
            break;
        }
    }
    let mut out = BTreeSet::new();
    let mut candidates: BTreeSet<(String, String)> = BTreeSet::new();
    for (package, name, _, _) in &rules {
        if results.contains(&name.as_str()) {
            candidates.insert((package.clone(), name.clone()));
        }
    }
    for (package, name) in candidates {
        let all = rules
            .iter()
            .filter(|(p, n, _, _)| *p == package && *n == name)
            .all(|(_, _, imports_other, r)| {
                !imports_other && per_change_definition(r, &name, &tainted)
            });
        if all {
            out.insert((package, name));
        }
    }
    out
}

/// One definition of a result rule: a partial set rule whose every body reads one
/// change.
fn per_change_definition(rule: &Json, name: &str, tainted: &BTreeSet<String>) -> bool {
    let Some(spec) = rule.get("Spec") else {
        return false;
    };
    let Some(head) = spec.pointer("/head/Set") else {
        return false;
    };
    // `deny contains msg`, not `deny[k] contains msg` (an object of sets, whose parts
    // do not simply add up) nor `deny.x contains msg`.
    if head["refr"].get("Var").is_none() {
        return false;
    }
    // The key (the message) is computed from the body's variables only.
    let mut head_vars = BTreeSet::new();
    collect_vars(&head["key"], &mut head_vars);
    if !clean(&head_vars, name, tainted) || head_vars.contains("input") {
        return false;
    }
    let Some(bodies) = spec["bodies"].as_array() else {
        return false;
    };
    !bodies.is_empty()
        && bodies.iter().all(|b| {
            let stmts = b.pointer("/query/stmts").and_then(Json::as_array);
            b["is_else"] != Json::Bool(true)
                && b["assign"].is_null()
                && stmts.is_some_and(|stmts| per_change_body(stmts, name, tainted))
        })
}

fn per_change_body(stmts: &[Json], name: &str, tainted: &BTreeSet<String>) -> bool {
    let mut iterations = 0;
    for s in stmts {
        if s.get("with_mods").is_some_and(|w| w != &Json::Null) {
            return false;
        }
        let literal = &s["literal"];
        let mut vars = BTreeSet::new();
        collect_vars(literal, &mut vars);
        if !clean(&vars, name, tainted) {
            return false;
        }
        if vars.contains("input") {
            if !iterates_changes(literal) || count_input(literal) != 1 {
                return false;
            }
            iterations += 1;
        }
    }
    iterations == 1
}

/// No reference to a rule that reads `input`, nor to `data` when any rule does.
fn clean(vars: &BTreeSet<String>, name: &str, tainted: &BTreeSet<String>) -> bool {
    vars.iter()
        .all(|v| v == name || !tainted.contains(v) || v == "input")
        && (!vars.contains("data") || tainted.is_empty())
}

/// `some x in input.resource_changes` or `x := input.resource_changes[_]`.
fn iterates_changes(literal: &Json) -> bool {
    if let Some(some_in) = literal.get("SomeIn") {
        return some_in["key"].is_null() && is_changes(&some_in["collection"]);
    }
    let Some(assign) = literal.pointer("/Expr/expr/AssignExpr") else {
        return false;
    };
    let Some(brack) = assign["rhs"].get("RefBrack") else {
        return false;
    };
    assign["lhs"].get("Var").is_some()
        && brack.pointer("/index/Var/value") == Some(&Json::from("_"))
        && is_changes(&brack["refr"])
}

fn is_changes(e: &Json) -> bool {
    path(e).is_some_and(|p| p == ["input", "resource_changes"])
}

fn count_input(e: &Json) -> usize {
    let mut n = 0;
    each_object(e, &mut |o| n += usize::from(var_name(o) == Some("input")));
    n
}

/// The name a rule defines: the first part of its head's reference.
fn rule_name(rule: &Json) -> Option<String> {
    let refr = if let Some(spec) = rule.get("Spec") {
        let head = spec.get("head")?.as_object()?.values().next()?;
        head.get("refr")?
    } else {
        rule.pointer("/Default/refr")?
    };
    let mut e = refr;
    // `a.b.c contains x`, `a[x]`: the rule is rooted at `a`.
    loop {
        if let Some(v) = e.pointer("/Var/value").and_then(Json::as_str) {
            return Some(v.to_string());
        }
        e = e
            .get("RefDot")
            .or_else(|| e.get("RefBrack"))
            .map(|r| &r["refr"])?;
    }
}

/// `a.b["c"]` as `["a", "b", "c"]`.
fn path(e: &Json) -> Option<Vec<String>> {
    if let Some(v) = e.pointer("/Var/value").and_then(Json::as_str) {
        return Some(vec![v.to_string()]);
    }
    if let Some(d) = e.get("RefDot") {
        let mut p = path(&d["refr"])?;
        p.push(d["field"].get(1)?.as_str()?.to_string());
        return Some(p);
    }
    let b = e.get("RefBrack")?;
    let mut p = path(&b["refr"])?;
    p.push(b.pointer("/index/String/value")?.as_str()?.to_string());
    Some(p)
}

/// Every variable named anywhere under `e`.
fn collect_vars(e: &Json, out: &mut BTreeSet<String>) {
    each_object(e, &mut |o| out.extend(var_name(o).map(str::to_string)));
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use crate::rego::{compile, Enforcement, Evaluation, PolicyFile, PolicySet, SetOutcome, Value};

    fn files(srcs: &[&str]) -> Vec<PolicyFile> {
        srcs.iter()
            .enumerate()
            .map(|(i, s)| PolicyFile {
                path: format!("p{i}.rego"),
                text: s.to_string(),
            })
            .collect()
    }

    fn per_change(srcs: &[&str]) -> BTreeSet<String> {
        compile(&files(srcs)).expect("compiles").per_change
    }

    const MIXED: &str = r#"package t
import rego.v1

# Per change: one iteration, a helper that reads only its argument.
deny contains msg if {
    some rc in input.resource_changes
    "create" in rc.change.actions
    not tagged(rc)
    msg := sprintf("%s needs a team tag", [rc.address])
}

deny contains msg if {
    rc := input.resource_changes[_]
    rc.type == "aws_db_instance"
    "delete" in rc.change.actions
    msg := sprintf("%s: no deletes", [rc.address])
}

tagged(rc) if rc.change.after.tags.team

# Whole: a count over every change.
warn contains msg if {
    n := count([rc | some rc in input.resource_changes; rc.change.actions == ["create"]])
    n > 3
    msg := sprintf("%d creates", [n])
}
"#;

    #[test]
    fn rules_over_one_change_are_told_from_rules_over_the_whole_plan() {
        assert_eq!(
            per_change(&[MIXED]),
            BTreeSet::from(["data.t.deny".to_string()])
        );
        // Classic syntax.
        let v0 = r#"package c
deny[msg] {
    r := input.resource_changes[_]
    r.mode == "managed"
    msg := r.address
}
"#;
        assert_eq!(
            per_change(&[v0]),
            BTreeSet::from(["data.c.deny".to_string()])
        );
    }

    #[test]
    fn anything_that_could_see_two_changes_is_read_whole() {
        let whole = [
            // The index tells parts apart.
            "package a\nimport rego.v1\ndeny contains msg if {\n some i, rc in input.resource_changes\n msg := sprintf(\"%d %s\", [i, rc.address])\n}\n",
            // Two changes compared.
            "package a\nimport rego.v1\ndeny contains msg if {\n some a in input.resource_changes\n some b in input.resource_changes\n a.address != b.address\n a.name == b.name\n msg := a.address\n}\n",
            // Another part of the document.
            "package a\nimport rego.v1\ndeny contains msg if {\n some rc in input.resource_changes\n input.configuration.x\n msg := rc.address\n}\n",
            // A rule that reads input.
            "package a\nimport rego.v1\nmany if count(input.resource_changes) > 1\ndeny contains msg if {\n some rc in input.resource_changes\n many\n msg := rc.address\n}\n",
            // ... through another rule.
            "package a\nimport rego.v1\nmany if count(input.resource_changes) > 1\nalso if many\ndeny contains msg if {\n some rc in input.resource_changes\n also\n msg := rc.address\n}\n",
            // `with` replaces what a part sees.
            "package a\nimport rego.v1\nok if true\ndeny contains msg if {\n some rc in input.resource_changes\n ok with input as {}\n msg := rc.address\n}\n",
            // An import of input.
            "package a\nimport rego.v1\nimport input.resource_changes as rcs\ndeny contains msg if {\n some rc in input.resource_changes\n count(rcs) > 1\n msg := rc.address\n}\n",
            // A complete rule: true when any change matches, not a set of messages.
            "package a\nimport rego.v1\ndeny if {\n some rc in input.resource_changes\n rc.type == \"x\"\n}\n",
            // A set under a key: the parts' objects do not add up.
            "package a\nimport rego.v1\ndeny[t] contains msg if {\n some rc in input.resource_changes\n t := rc.type\n msg := rc.address\n}\n",
            // `data` could reach anything.
            "package a\nimport rego.v1\ndeny contains msg if {\n some rc in input.resource_changes\n data.a.other\n msg := rc.address\n}\nother if input.x\n",
        ];
        for src in whole {
            assert_eq!(per_change(&[src]), BTreeSet::new(), "{src}");
        }
        // One whole definition makes the rule whole, also from another file.
        let other_file = "package t\nimport rego.v1\ndeny contains msg if {\n count(input.resource_changes) > 100\n msg := \"too many\"\n}\n";
        assert_eq!(per_change(&[MIXED, other_file]), BTreeSet::new());
    }

    fn plan(n: usize) -> Value {
        let changes: Vec<serde_json::Value> = (0..n)
            .map(|i| {
                let (kind, action) = match i % 4 {
                    0 => ("aws_instance", "create"),
                    1 => ("aws_db_instance", "delete"),
                    2 => ("aws_s3_bucket", "create"),
                    _ => ("null_resource", "update"),
                };
                let tags = if i % 8 == 0 {
                    serde_json::json!({"team": "core"})
                } else {
                    serde_json::json!({})
                };
                serde_json::json!({
                    "address": format!("{kind}.r{i}"),
                    "type": kind,
                    "change": {"actions": [action], "after": {"tags": tags}},
                })
            })
            .collect();
        Value::from(serde_json::json!({ "resource_changes": changes }))
    }

    /// The set evaluated on `input` with its changes kept for the end, in `parts` when
    /// there are at least `min_changes`.
    fn evaluate_in_parts(
        set: &PolicySet,
        input: &Value,
        parts: usize,
        min_changes: usize,
    ) -> SetOutcome {
        let mut e = Evaluation::new(set);
        if let Value::Array(changes) = &input["resource_changes"] {
            changes.iter().for_each(|c| e.keep(c.clone()));
        }
        e.finish_in_parts(input, parts, min_changes)
    }

    fn mixed_set() -> PolicySet {
        PolicySet {
            name: "t".into(),
            level: Enforcement::HardMandatory,
            files: files(&[MIXED]),
        }
    }

    #[test]
    fn evaluating_in_parts_gives_what_evaluating_whole_gives() {
        let set = mixed_set();
        let input = plan(101);
        let whole = evaluate_in_parts(&set, &input, 1, 0);
        let split = evaluate_in_parts(&set, &input, 3, 10);
        // 101 changes: 26 untagged creates of aws_instance less the tagged ones, all
        // the buckets, 25 deletes; the warn sees every create at once.
        assert!(whole.denials.len() > 50, "{:?}", whole.denials.len());
        assert_eq!(whole.warnings.len(), 1);
        assert!(
            whole.warnings[0].message.contains("51 creates"),
            "{:?}",
            whole.warnings
        );
        assert_eq!(split.denials, whole.denials);
        assert_eq!(split.warnings, whole.warnings);
        assert!(whole.errors.is_empty() && split.errors.is_empty());
    }

    #[test]
    fn changes_fed_while_planning_give_what_the_whole_document_gives() {
        let set = mixed_set();
        // Over two batches, with some left for the end.
        let input = plan(2_500);
        let whole = evaluate_in_parts(&set, &input, 1, usize::MAX);
        let mut fed = Evaluation::new(&set);
        assert!(fed.reads_changes_one_by_one());
        let Value::Array(changes) = &input["resource_changes"] else {
            panic!("no changes")
        };
        for c in changes.iter() {
            fed.push(c.clone());
        }
        let fed = fed.finish_in_parts(&input, 2, 10);
        assert!(whole.denials.len() > 1_000, "{}", whole.denials.len());
        assert_eq!(fed.denials, whole.denials);
        assert_eq!(fed.warnings, whole.warnings);
        assert!(fed.errors.is_empty());
    }

    #[test]
    fn a_per_change_rule_that_cannot_be_evaluated_fails_also_without_changes() {
        let src = "package e\nimport rego.v1\ndeny contains msg if {\n n := no_such_function(1)\n some rc in input.resource_changes\n msg := sprintf(\"%s %v\", [rc.address, n])\n}\n";
        assert_eq!(
            per_change(&[src]),
            BTreeSet::from(["data.e.deny".to_string()])
        );
        let set = PolicySet {
            name: "e".into(),
            level: Enforcement::HardMandatory,
            files: files(&[src]),
        };
        let none = Value::from(serde_json::json!({ "resource_changes": [] }));
        let out = evaluate_in_parts(&set, &none, 2, 0);
        assert!(out.failed() && !out.errors.is_empty(), "{out:?}");
    }

    fn projection(src: &str) -> terrane_core::doc::Projection {
        compile(&files(&[src])).expect("compiles").changes
    }

    fn reached(p: &terrane_core::doc::Projection, path: &[&str]) -> bool {
        let mut p = p;
        for f in path {
            match p.field(f) {
                Some(q) => p = q,
                None => return false,
            }
        }
        true
    }

    #[test]
    fn what_policies_read_of_a_change_is_the_paths_they_name() {
        let src = r#"package t
import rego.v1
deny contains msg if {
    some rc in input.resource_changes
    rc.mode == "managed"
    "create" in rc.change.actions
    not rc.change.after.tags.team
    some k, _ in rc.change.after.labels
    is_tagged(rc, "team")
    msg := sprintf("%s %s", [rc.address, k])
}
warn contains msg if {
    n := count([c | c := input.resource_changes[_]; c.change.actions == ["create"]])
    count([rc | some rc in input.resource_changes]) > 0
    input.resource_changes[0].type == "x"
    n > input.limits.creates
    msg := "many"
}

# A helper reads what it is given; so does one it passes it on to.
is_tagged(c, key) if sensitive_tags(c)[key]
sensitive_tags(x) := x.change.after_sensitive.tags
"#;
        let p = projection(src);
        assert!(!p.is_all());
        for path in [
            &["mode"][..],
            &["address"],
            &["type"],
            &["change", "actions"],
            &["change", "after", "tags", "team", "anything"],
            &["change", "after", "labels", "x"],
            &["change", "after_sensitive", "tags"],
        ] {
            assert!(reached(&p, path), "{path:?} in {p:?}");
        }
        for path in [
            &["name"][..],
            &["provider_name"],
            &["change", "before"],
            &["change", "after_unknown"],
            &["change", "after", "tags", "env"],
            &["change", "after", "id"],
        ] {
            assert!(!reached(&p, path), "{path:?} in {p:?}");
        }
    }

    #[test]
    fn a_change_used_in_any_other_way_is_built_whole() {
        let cases = [
            "some rc in input.resource_changes\n whole(rc) == \"\"",
            "some rc in input.resource_changes\n pattern(rc) == \"a\"",
            "some rc in input.resource_changes\n passes_on(rc)",
            "some rc in input.resource_changes\n startswith(rc, \"a\")",
            "some rc in input.resource_changes\n x := rc\n x.type == \"a\"",
            "some rc in input.resource_changes\n json.marshal(rc) == \"\"",
            "some rc in input.resource_changes\n some k, _ in rc\n k == \"a\"",
            "some rc in input.resource_changes\n rc[\"type\"] == \"a\"\n rc[k] == \"b\"",
            "count(input.resource_changes) > 1",
            "count({rc | some rc in input.resource_changes}) > 1",
            "every rc in input.resource_changes { rc.type == \"a\" }",
            "walk(input, [p, v])",
            "input[k] == 1",
            "some rc in input.resource_changes\n rc.type == \"a\" with input as {}",
            // `=` on a bound change compares whole changes.
            "some a in input.resource_changes\n count([j | some j; a = input.resource_changes[j]]) > 1",
            "x := input.resource_changes[0]\n x = input.resource_changes[1]",
            "rc = input.resource_changes[_]\n rc.type == \"a\"",
        ];
        for body in cases {
            let src = format!(
                "package t\nimport rego.v1\ntagged(c) if c.change.after.tags.team\nwhole(c) := json.marshal(c)\npattern({{\"type\": t}}) := t\npasses_on(c) if whole(c) == \"\"\ndeny contains \"x\" if {{\n {body}\n}}\n"
            );
            assert!(projection(&src).is_all(), "{body}");
        }
        // Nor when `count` is a rule of the policies' own.
        let src = "package t\nimport rego.v1\ncount(xs) := xs[0].change.before.n\ndeny contains \"x\" if {\n count([rc | some rc in input.resource_changes; rc.type == \"a\"]) > 1\n}\n";
        assert!(projection(src).is_all());
        // The classic syntax can bind a change to the name `input`.
        let src = "package t\ndeny[msg] {\n input := input.resource_changes[0]\n input.change.before.secret == \"x\"\n msg := \"x\"\n}\n";
        assert!(projection(src).is_all());
        // An import could name the changes under another name.
        let src = "package t\nimport input.resource_changes as changes\ndeny[\"x\"] { changes[_].type == \"a\" }\n";
        assert!(projection(src).is_all());
        // A static `rc["type"]` alone is a path like `rc.type`.
        let src = "package t\nimport rego.v1\ndeny contains \"x\" if {\n some rc in input.resource_changes\n rc[\"type\"] == \"a\"\n}\n";
        let p = projection(src);
        assert!(reached(&p, &["type"]) && !reached(&p, &["name"]), "{p:?}");
    }
}
