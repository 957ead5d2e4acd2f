//! Root variable values as users give them: `TF_VAR_*` and `TERRANE_VAR_*` environment
//! variables, `terraform.tfvars`, `*.auto.tfvars`, `--var-file` and `--var`, collected with
//! Terraform's precedence (later wins), and a `--var` text read for its variable's
//! type. Values from files are evaluated here; texts are converted by the engine,
//! which knows each variable's declaration.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use terrane_core::{Diagnostic, Diagnostics, SourceMap, Type, Value};

use crate::ast::Converter;
use crate::config::{parse_error_diag, Variable};
use crate::eval::{eval_constant, suggest};
use crate::Module;

/// A root variable value as given by the user.
#[derive(Clone, Debug, PartialEq)]
pub enum RawVar {
    /// From `--var`, `TF_VAR_*` or `TERRANE_VAR_*`: parsed according to the variable's type.
    Text(String),
    /// From a `.tfvars` file (already evaluated).
    Value(Value),
}

/// What the command line says about variables: `--var-file` paths and `--var
/// NAME=VALUE` assignments, each in the order given.
#[derive(Clone, Debug, Default)]
pub struct VarInputs {
    pub var_files: Vec<PathBuf>,
    pub vars: Vec<String>,
}

/// Collects root variable values with Terraform's precedence (later wins):
/// `TF_VAR_*` then `TERRANE_VAR_*`, `terraform.tfvars`, `*.auto.tfvars`, then `--var-file` and `--var`.
/// The files read are added to `sources` so diagnostics can point into them. Returns
/// the values and the warnings, or every error found.
pub fn collect(
    dir: &Path,
    module: &Module,
    sources: &mut SourceMap,
    inputs: &VarInputs,
) -> Result<(BTreeMap<String, RawVar>, Diagnostics), Diagnostics> {
    let mut out = BTreeMap::new();
    let mut diags = Diagnostics::new();
    // Terraform's TF_VAR_NAME, so existing scripts and CI keep working; terrane's own
    // TERRANE_VAR_NAME wins where both are set.
    for prefix in ["TF_VAR_", "TERRANE_VAR_"] {
        for (k, v) in std::env::vars() {
            if let Some(name) = k.strip_prefix(prefix) {
                if module.variables.contains_key(name) {
                    out.insert(name.to_string(), RawVar::Text(v));
                }
            }
        }
    }
    let mut files = Vec::new();
    let default = dir.join("terraform.tfvars");
    if default.is_file() {
        files.push(default);
    }
    let mut auto: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.to_string_lossy().ends_with(".auto.tfvars"))
                .collect()
        })
        .unwrap_or_default();
    auto.sort();
    files.extend(auto);
    let mut reader = FileReader {
        dir,
        module,
        sources,
        out: &mut out,
        diags: &mut diags,
    };
    for f in files {
        reader.read(&f, false);
    }
    // Command-line flags: files first, then --var (clap does not keep their interleaving).
    for f in &inputs.var_files {
        // `join` keeps an absolute path as it is.
        reader.read(&dir.join(f), true);
    }
    for v in &inputs.vars {
        match v.split_once('=') {
            Some((name, value)) if !name.is_empty() => {
                if !module.variables.contains_key(name) {
                    diags.push(Diagnostic::error(
                        "Value for undeclared variable",
                        format!(
                            "A variable named {name:?} was assigned on the command line, but the root module does not declare a variable of that name. Declare it with a variable \"{name}\" {{}} block, or remove --var {name}=...{}",
                            suggest(name, module.variables.keys())
                        ),
                    ));
                    continue;
                }
                out.insert(name.to_string(), RawVar::Text(value.to_string()));
            }
            _ => diags.push(Diagnostic::error(
                "Invalid --var option",
                format!("The option --var {v:?} is not of the form NAME=VALUE."),
            )),
        }
    }
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok((out, diags))
    }
}

/// Reads `.tfvars` files into the values collected so far.
struct FileReader<'a> {
    dir: &'a Path,
    module: &'a Module,
    sources: &'a mut SourceMap,
    out: &'a mut BTreeMap<String, RawVar>,
    diags: &'a mut Diagnostics,
}

impl FileReader<'_> {
    /// Reads one file; `explicit` (named by `--var-file`) warns about assignments to
    /// undeclared variables, which the files read by default may hold for other roots.
    fn read(&mut self, path: &Path, explicit: bool) {
        let name: Arc<str> = Arc::from(
            path.strip_prefix(self.dir)
                .unwrap_or(path)
                .to_string_lossy()
                .as_ref(),
        );
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                self.diags.push(Diagnostic::error(
                    "Cannot read variables file",
                    format!("Reading {}: {e}.", path.display()),
                ));
                return;
            }
        };
        self.sources.insert(name.clone(), Arc::from(text.as_str()));
        let body = match hcl_edit::parser::parse_body(&text) {
            Ok(b) => b,
            Err(e) => {
                self.diags.push(parse_error_diag(&name, &text, &e));
                return;
            }
        };
        let cv = Converter {
            file: name.clone(),
            base: 0,
            renamed_keys: Default::default(),
            source: Arc::from(text.as_str()),
        };
        for st in body.iter() {
            let hcl_edit::structure::Structure::Attribute(a) = st else {
                self.diags.push(Diagnostic::error(
                    "Unexpected block in variables file",
                    format!("{name} may only contain NAME = VALUE assignments."),
                ));
                continue;
            };
            let key = a.key.value().to_string();
            let expr = cv.expr(&a.value);
            if !self.module.variables.contains_key(&key) {
                if explicit {
                    self.diags.push(
                        Diagnostic::warning(
                            "Value for undeclared variable",
                            format!("The file assigns {key:?}, but the root module declares no such variable; the value is ignored."),
                        )
                        .with_span(Some(expr.span.clone())),
                    );
                }
                continue;
            }
            match eval_constant(&expr) {
                Ok(v) => {
                    self.out.insert(key, RawVar::Value(v));
                }
                Err(d) => self.diags.push(d),
            }
        }
    }
}

/// Reads a `--var` value: as a plain string for variables of a primitive type
/// (converted to the type afterwards), otherwise as an HCL expression (`["a","b"]`,
/// `{k = 1}`, `42`, `true`).
pub fn parse_cli_value(decl: &Variable, text: &str) -> Result<Value, Diagnostic> {
    // As Terraform does, a value for a primitive type is taken as a string and
    // converted, so `--var port=abc` is "not a number", not an unknown reference.
    let stringish = matches!(
        decl.ty,
        None | Some(Type::String | Type::Any | Type::Number | Type::Bool)
    );
    if stringish {
        return Ok(Value::String(text.to_string()));
    }
    let expr = hcl_edit::parser::parse_expr(text).map_err(|e| {
        Diagnostic::error(
            "Invalid value for input variable",
            format!("The value given for variable {:?} is not a valid expression: {}. Quote strings inside lists and maps, e.g. --var '{}=[\"a\",\"b\"]'.", decl.name, e.message(), decl.name),
        )
        .with_span(Some(decl.span.clone()))
    })?;
    let cv = Converter {
        file: Arc::from("<value for var.".to_string() + &decl.name + ">"),
        base: 0,
        renamed_keys: Default::default(),
        source: Arc::from(text),
    };
    eval_constant(&cv.expr(&expr)).map_err(|d| {
        Diagnostic::error(
            "Invalid value for input variable",
            format!(
                "The value for variable {:?} must be a constant: {}",
                decl.name, d.detail
            ),
        )
        .with_span(Some(decl.span.clone()))
    })
}
