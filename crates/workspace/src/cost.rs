//! Cost of a workspace: the price catalog and usage it is priced with, the cost of a
//! plan before and after (`terrane cost`, the line every plan ends with, and
//! `input.cost` for policies, priced once per plan: [`PlanPrice`]), Terraform JSON
//! plans, and budgets compiled into policy sets over `input.cost`.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use terrane_core::{ResourceMode, Span, Value};
use terrane_cost::{Catalog, Estimate, Item, PlanCost, Pricer, Usage};
use terrane_engine::{Action, Plan, ResourceChange};
use terrane_lang::config::BudgetBlock;
use terrane_lang::{Reference, Scope};
use terrane_policy::rego::{Enforcement, PolicyFile, PolicySet};
use terrane_state::Snapshot;

use crate::Workspace;

/// Environment variable naming a pricing file to use instead of the built-in catalog.
pub const PRICING_FILE_ENV: &str = "TERRANE_PRICING_FILE";

/// Where prices and usage come from, when not the defaults.
#[derive(Debug, Clone, Default)]
pub struct PriceFiles {
    /// The usage file (default: terrane-usage.yml in the workspace, when it exists).
    pub usage_file: Option<PathBuf>,
    /// A price catalog to use instead of the built-in one (default: the file named by
    /// [`PRICING_FILE_ENV`], else the built-in catalog).
    pub pricing_file: Option<PathBuf>,
}

/// The price of one plan, computed at most once and shared by everything that shows
/// it: the plan's cost line and the policies' `input.cost`.
#[derive(Default)]
pub struct PlanPrice(std::sync::OnceLock<Result<PlanCost, String>>);

impl PlanPrice {
    /// The plan's cost with the workspace's default catalog and usage, or why there is
    /// none (a pricing or usage file that cannot be read).
    pub fn get(&self, ws: &Workspace, plan: &Plan) -> &Result<PlanCost, String> {
        self.0.get_or_init(|| {
            Sources::load(&ws.dir, &PriceFiles::default())
                .map(|sources| plan_cost(ws, &plan.prior, Some(plan), &sources))
        })
    }

    /// `input.cost` of the policy document: the cost, or null when it cannot be made
    /// (budgets then fail; see [`budget_sets`]).
    pub fn json(&self, ws: &Workspace, plan: &Plan) -> serde_json::Value {
        match self.get(ws, plan) {
            Ok(cost) => serde_json::to_value(cost).unwrap_or(serde_json::Value::Null),
            Err(e) => {
                tracing::warn!("No cost estimate: {e}.");
                serde_json::Value::Null
            }
        }
    }
}

/// `input.cost` for a check of the current state (no plan).
pub fn state_cost_json(ws: &Workspace, state: &Snapshot) -> serde_json::Value {
    match Sources::load(&ws.dir, &PriceFiles::default()) {
        Ok(sources) => serde_json::to_value(plan_cost(ws, state, None, &sources))
            .unwrap_or(serde_json::Value::Null),
        Err(e) => {
            tracing::warn!("No cost estimate: {e}.");
            serde_json::Value::Null
        }
    }
}

/// The built-in catalog, or one read from a pricing file.
enum Prices {
    Builtin(&'static Catalog),
    File(Box<Catalog>),
}

impl std::ops::Deref for Prices {
    type Target = Catalog;

    fn deref(&self) -> &Catalog {
        match self {
            Prices::Builtin(c) => c,
            Prices::File(c) => c,
        }
    }
}

/// The catalog and usage a workspace is priced with.
pub struct Sources {
    catalog: Prices,
    pub usage: Usage,
}

impl Sources {
    /// The price catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Usage keys that match no priced component (likely typos), as warnings.
    pub fn unused_usage_keys(&self) -> Vec<String> {
        Pricer {
            catalog: &self.catalog,
            usage: &self.usage,
            regions: &HashMap::new(),
        }
        .unused_usage_keys()
    }

    /// Reads the pricing and usage files `args` name, or the workspace's defaults.
    pub fn load(dir: &Path, args: &PriceFiles) -> Result<Sources, String> {
        let resolve = |p: &Path| dir.join(p);
        let pricing = args
            .pricing_file
            .clone()
            .or_else(|| std::env::var_os(PRICING_FILE_ENV).map(PathBuf::from));
        let catalog = match pricing {
            Some(p) => Prices::File(Box::new(
                Catalog::load(&resolve(&p)).map_err(|e| e.to_string())?,
            )),
            None => Prices::Builtin(Catalog::builtin()),
        };
        let usage = match &args.usage_file {
            Some(p) => Usage::load(&resolve(p)).map_err(|e| e.to_string())?,
            None => {
                let default = dir.join(terrane_cost::usage::FILE_NAME);
                if default.is_file() {
                    Usage::load(&default).map_err(|e| e.to_string())?
                } else {
                    Usage::none()
                }
            }
        };
        Ok(Sources { catalog, usage })
    }
}

/// A scope with the root variables only, for a provider block's `region`.
struct VarScope<'a> {
    vars: &'a BTreeMap<String, Value>,
    dir: &'a Path,
}

impl Scope for VarScope<'_> {
    fn lookup(
        &self,
        r: &Reference,
        span: &Span,
    ) -> Result<Cow<'_, Value>, terrane_core::Diagnostic> {
        match r {
            Reference::Var(n) => self.vars.get(n).map(Cow::Borrowed).ok_or_else(|| {
                terrane_core::Diagnostic::error("Unknown variable", n.clone())
                    .with_span(Some(span.clone()))
            }),
            _ => Err(
                terrane_core::Diagnostic::error("Not a constant", "only var.* is known here")
                    .with_span(Some(span.clone())),
            ),
        }
    }

    fn base_dir(&self) -> &Path {
        self.dir
    }
}

/// The AWS region in the environment, as the provider reads it.
fn env_region() -> Option<String> {
    ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
}

/// The region of each AWS provider configuration of the root module (`aws`,
/// `aws.ALIAS`): its `region` argument; without one, `AWS_REGION` /
/// `AWS_DEFAULT_REGION` as the provider itself does. A `region` terrane cannot
/// evaluate here (sensitive, or from other resources) is unknown: `None`.
fn regions(ws: &Workspace, vars: &BTreeMap<String, Value>) -> HashMap<String, Option<String>> {
    let mut out = HashMap::new();
    let scope = VarScope { vars, dir: &ws.dir };
    for p in ws.module.providers.iter().filter(|p| p.name == "aws") {
        let key = p
            .alias
            .as_ref()
            .map_or_else(|| "aws".to_string(), |a| format!("aws.{a}"));
        let region = match p.body.attrs.get("region") {
            Some(a) => match terrane_lang::eval(&a.expr, &scope) {
                Ok(Value::String(r)) => Some(r),
                _ => None,
            },
            None => env_region(),
        };
        out.insert(key, region);
    }
    out.entry("aws".to_string()).or_insert_with(env_region);
    out
}

/// The root variables' values: the plan's, else the declared defaults.
fn variable_values(ws: &Workspace, plan: Option<&Plan>) -> BTreeMap<String, Value> {
    if let Some(p) = plan {
        return p.variable_values.clone();
    }
    ws.module
        .variables
        .values()
        .filter_map(|v| {
            let d = v.default.as_ref()?;
            Some((v.name.clone(), terrane_lang::eval::eval_constant(d).ok()?))
        })
        .collect()
}

/// One managed resource instance to price, borrowed from a snapshot or a plan.
struct Row<'p> {
    type_name: &'p str,
    provider: &'p str,
    value: &'p Value,
    dependencies: &'p [String],
}

fn state_rows(s: &Snapshot) -> BTreeMap<String, Row<'_>> {
    s.resources
        .values()
        .filter(|r| r.addr.resource.mode == ResourceMode::Managed)
        .map(|r| {
            (
                r.addr.to_string(),
                Row {
                    type_name: &r.addr.resource.type_name,
                    provider: &r.provider,
                    value: &r.value,
                    dependencies: &r.dependencies,
                },
            )
        })
        .collect()
}

fn after_rows<'p>(prior: &'p Snapshot, changes: &'p [ResourceChange]) -> BTreeMap<String, Row<'p>> {
    let mut rows = state_rows(prior);
    for c in changes {
        if c.addr.resource.mode != ResourceMode::Managed || c.action == Action::NoOp {
            continue;
        }
        let addr = c.addr.to_string();
        match &c.after {
            Some(v) if c.action != Action::Delete => {
                rows.insert(
                    addr,
                    Row {
                        type_name: &c.addr.resource.type_name,
                        provider: &c.provider,
                        value: v,
                        dependencies: &c.dependencies,
                    },
                );
            }
            _ => {
                rows.remove(&addr);
            }
        }
    }
    rows
}

fn estimate(pricer: &Pricer<'_>, rows: &BTreeMap<String, Row<'_>>) -> Estimate {
    let items: Vec<Item<'_>> = rows
        .iter()
        .map(|(address, r)| Item {
            address,
            type_name: r.type_name,
            provider: r.provider,
            values: r.value,
            dependencies: r.dependencies,
        })
        .collect();
    pricer.estimate(&items)
}

/// The cost of a workspace before and after a plan (or, without one, of its state).
pub fn plan_cost(
    ws: &Workspace,
    prior: &Snapshot,
    plan: Option<&Plan>,
    sources: &Sources,
) -> PlanCost {
    let started = std::time::Instant::now();
    let regions = regions(ws, &variable_values(ws, plan));
    let pricer = Pricer {
        catalog: &sources.catalog,
        usage: &sources.usage,
        regions: &regions,
    };
    // Objects deleted outside terrane cost nothing now, whatever the state recorded.
    let vanished: std::collections::HashSet<String> = plan
        .map(|p| {
            p.drift
                .iter()
                .filter(|d| d.after.is_none())
                .map(|d| d.addr.to_string())
                .collect()
        })
        .unwrap_or_default();
    let mut before_rows = state_rows(prior);
    before_rows.retain(|a, _| !vanished.contains(a));
    let before = estimate(&pricer, &before_rows);
    let changes = plan.map_or(&[][..], |p| &p.changes);
    let mut rows = after_rows(prior, changes);
    if !vanished.is_empty() {
        // Kept only where the plan creates them again.
        let planned: std::collections::HashSet<String> = changes
            .iter()
            .filter(|c| c.after.is_some() && !matches!(c.action, Action::NoOp | Action::Delete))
            .map(|c| c.addr.to_string())
            .collect();
        rows.retain(|a, _| !vanished.contains(a) || planned.contains(a));
    }
    let after = estimate(&pricer, &rows);
    let cost = PlanCost::new(&before, after, &sources.catalog, &sources.usage);
    // bench/cost.py reads this line.
    tracing::debug!(
        resources = cost.summary.resources,
        price_ms = started.elapsed().as_secs_f64() * 1e3,
        "plan priced"
    );
    cost
}

/// The workspace's budgets as policy sets over `input.cost`, each with its
/// enforcement level.
pub fn budget_sets(budgets: &[BudgetBlock]) -> Result<Vec<PolicySet>, String> {
    budgets
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let level = Enforcement::parse(&b.enforcement_level)
                .ok_or_else(|| format!("invalid enforcement level {:?}", b.enforcement_level))?;
            Ok(PolicySet {
                name: format!("budget {}", b.name),
                level,
                files: vec![PolicyFile {
                    path: format!("budget \"{}\"", b.name),
                    text: budget_rego(i, b),
                }],
            })
        })
        .collect()
}

/// The Rego of one budget. Amounts are USD per month; the limits are written into
/// the messages in Rust so they read as money.
fn budget_rego(index: usize, b: &BudgetBlock) -> String {
    let lit = |s: String| serde_json::to_string(&s).unwrap_or_default();
    let who = format!("budget {:?}", b.name);
    // For sprintf formats: a `%` in the name is literal.
    let fmt_who = who.replace('%', "%%");
    let mut rego = format!(
        "package terrane.budget.b{index}\n\nimport rego.v1\n\n\
         deny contains msg if {{\n\
         \tnot is_number(input.cost.total_monthly_cost)\n\
         \tmsg := {}\n\
         }}\n\n\
         warn contains msg if {{\n\
         \tn := (input.cost.summary.partly_priced + input.cost.summary.not_priced) + input.cost.summary.unsupported\n\
         \tn > 0\n\
         \tmsg := sprintf({}, [n, input.cost.total_monthly_cost])\n\
         }}\n",
        lit(format!("{who}: the cost of this plan could not be estimated, so the budget cannot be checked")),
        lit(format!("{fmt_who}: %d resource(s) not fully priced, so the real monthly cost may be above $%.2f")),
    );
    if let Some(limit) = b.monthly_limit {
        rego.push_str(&format!(
            "\ndeny contains msg if {{\n\
             \tinput.cost.total_monthly_cost > {limit}\n\
             \tmsg := sprintf({}, [input.cost.total_monthly_cost])\n\
             }}\n",
            lit(format!(
                "{fmt_who}: the monthly cost after this plan, $%.2f, is over the limit of ${limit:.2}"
            ))
        ));
    }
    if let Some(max) = b.max_monthly_increase {
        rego.push_str(&format!(
            "\ndeny contains msg if {{\n\
             \tinput.cost.diff_monthly_cost > {max}\n\
             \tmsg := sprintf({}, [input.cost.diff_monthly_cost])\n\
             }}\n",
            lit(format!(
                "{fmt_who}: this plan adds $%.2f a month, more than the ${max:.2} one plan may add"
            ))
        ));
    }
    rego
}

/// The file's JSON when it is a Terraform JSON plan, `None` for a terrane plan file.
pub fn terraform_plan(path: &Path) -> Result<Option<serde_json::Value>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the plan file {}: {e}", path.display()))?;
    let Ok(j) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Ok(None);
    };
    let is_tf = j.get("format_version").is_some() && j.get("resource_changes").is_some();
    Ok(is_tf.then_some(j))
}

/// Prices a Terraform JSON plan: `prior_state` before, `resource_changes` after, the
/// regions from `configuration.provider_config`.
pub fn terraform_plan_cost(j: &serde_json::Value, sources: &Sources) -> PlanCost {
    #[derive(Clone)]
    struct Owned {
        type_name: String,
        provider: String,
        value: Value,
        dependencies: Vec<String>,
    }
    let s = |v: &serde_json::Value, k: &str| {
        v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string()
    };
    // References in the root module's configuration stand in for dependencies.
    // The provider configuration (`aws`, `aws.west`) of each root module resource, so
    // that aliased providers are priced in their own region.
    let mut deps: HashMap<String, Vec<String>> = HashMap::new();
    let mut provider_keys: HashMap<String, String> = HashMap::new();
    if let Some(rs) = j
        .pointer("/configuration/root_module/resources")
        .and_then(|r| r.as_array())
    {
        for r in rs {
            let mut refs = Vec::new();
            collect_references(
                r.get("expressions").unwrap_or(&serde_json::Value::Null),
                &mut refs,
            );
            deps.insert(s(r, "address"), refs);
            let key = s(r, "provider_config_key");
            if !key.is_empty() {
                provider_keys.insert(s(r, "address"), key);
            }
        }
    }
    let base = |address: &str| address.split('[').next().unwrap_or(address).to_string();
    let config_of = |address: &str| deps.get(&base(address)).cloned().unwrap_or_default();
    let provider_of = |address: &str, r: &serde_json::Value| {
        provider_keys
            .get(&base(address))
            .cloned()
            .unwrap_or_else(|| s(r, "provider_name"))
    };
    let mut before: BTreeMap<String, Owned> = BTreeMap::new();
    fn walk<'j>(m: &'j serde_json::Value, out: &mut Vec<&'j serde_json::Value>) {
        if let Some(rs) = m.get("resources").and_then(|r| r.as_array()) {
            out.extend(rs);
        }
        if let Some(cs) = m.get("child_modules").and_then(|c| c.as_array()) {
            for c in cs {
                walk(c, out);
            }
        }
    }
    let mut prior = Vec::new();
    walk(
        j.pointer("/prior_state/values/root_module")
            .unwrap_or(&serde_json::Value::Null),
        &mut prior,
    );
    // Deposed objects (left by a create-before-destroy replacement) are not the
    // resource's current object.
    for r in prior
        .iter()
        .filter(|r| s(r, "mode") == "managed" && r.get("deposed_key").is_none())
    {
        let address = s(r, "address");
        let mut value = Value::from_json(r.get("values").unwrap_or(&serde_json::Value::Null));
        mark_sensitive(&mut value, r.get("sensitive_values"));
        let o = Owned {
            type_name: s(r, "type"),
            provider: provider_of(&address, r),
            value,
            dependencies: config_of(&address),
        };
        before.insert(address, o);
    }
    let mut after = before.clone();
    for rc in j["resource_changes"].as_array().into_iter().flatten() {
        if s(rc, "mode") != "managed" || rc.get("deposed").is_some() {
            continue;
        }
        let address = s(rc, "address");
        let change = &rc["change"];
        let deletes = change["actions"]
            .as_array()
            .is_some_and(|a| a == &[serde_json::json!("delete")]);
        match change.get("after") {
            Some(a) if !a.is_null() && !deletes => {
                let mut value = Value::from_json(a);
                // `after_unknown` marks attributes known only after apply.
                if let (Value::Map(m), Some(unknown)) =
                    (&mut value, change["after_unknown"].as_object())
                {
                    for (k, u) in unknown {
                        if u == &serde_json::Value::Bool(true) {
                            m.insert(k.clone(), Value::Unknown);
                        }
                    }
                }
                mark_sensitive(&mut value, change.get("after_sensitive"));
                after.insert(
                    address.clone(),
                    Owned {
                        type_name: s(rc, "type"),
                        provider: provider_of(&address, rc),
                        value,
                        dependencies: config_of(&address),
                    },
                );
            }
            _ => {
                after.remove(&address);
            }
        }
    }
    // Regions: a literal, or a root variable's value from the plan; any other
    // expression is unknown. Without `region`, the environment, as the provider does.
    let mut regions: HashMap<String, Option<String>> = HashMap::new();
    if let Some(pc) = j
        .pointer("/configuration/provider_config")
        .and_then(|p| p.as_object())
    {
        for (key, p) in pc {
            let region = match p.pointer("/expressions/region") {
                None => env_region(),
                Some(e) => match e.get("constant_value").and_then(|r| r.as_str()) {
                    Some(r) => Some(r.to_string()),
                    None => e["references"]
                        .as_array()
                        .and_then(|refs| refs.first())
                        .and_then(|r| r.as_str())
                        .and_then(|r| r.strip_prefix("var."))
                        .and_then(|v| j.pointer(&format!("/variables/{v}/value")))
                        .and_then(|v| v.as_str())
                        .map(str::to_string),
                },
            };
            regions.insert(key.clone(), region);
        }
    }
    regions.entry("aws".to_string()).or_insert_with(env_region);
    let pricer = Pricer {
        catalog: &sources.catalog,
        usage: &sources.usage,
        regions: &regions,
    };
    let items = |m: &BTreeMap<String, Owned>| -> Estimate {
        let items: Vec<Item<'_>> = m
            .iter()
            .map(|(address, o)| Item {
                address,
                type_name: &o.type_name,
                provider: &o.provider,
                values: &o.value,
                dependencies: &o.dependencies,
            })
            .collect();
        pricer.estimate(&items)
    };
    let (b, a) = (items(&before), items(&after));
    PlanCost::new(&b, a, &sources.catalog, &sources.usage)
}

/// Marks the attributes a Terraform `*_sensitive` mask names (true, or objects and
/// arrays of such masks) as sensitive, so they are never priced or shown.
fn mark_sensitive(v: &mut Value, mask: Option<&serde_json::Value>) {
    match (mask, &mut *v) {
        (Some(serde_json::Value::Bool(true)), _) => {
            let inner = std::mem::take(v);
            *v = inner.into_sensitive();
        }
        (Some(serde_json::Value::Object(m)), Value::Map(fields)) => {
            for (k, mask) in m {
                if let Some(f) = fields.get_mut(k) {
                    mark_sensitive(f, Some(mask));
                }
            }
        }
        (Some(serde_json::Value::Array(masks)), Value::List(items) | Value::Set(items)) => {
            for (item, mask) in items.iter_mut().zip(masks) {
                mark_sensitive(item, Some(mask));
            }
        }
        _ => {}
    }
}

fn collect_references(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            if let Some(refs) = m.get("references").and_then(|r| r.as_array()) {
                out.extend(refs.iter().filter_map(|r| r.as_str().map(str::to_string)));
            }
            for (k, x) in m {
                if k != "references" {
                    collect_references(x, out);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_references(x, out)),
        _ => {}
    }
}
