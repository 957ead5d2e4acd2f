//! Diagnostics: what the user got wrong, where, and how to fix it.
//!
//! A [`Diagnostic`] has a fixed one-line summary ("Reference to undeclared resource"), a
//! detail written in full sentences, and optionally the [`Span`] of source text it is
//! about. Code collects them into [`Diagnostics`] instead of stopping at the first one;
//! the CLI renders them all with [`Diagnostic::render`].

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// One step of a path into a value: an attribute, a map key or a list index. A
/// provider names the attribute a diagnostic is about with such a path, and the
/// engine finds its place in the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathStep {
    Attr(String),
    Key(String),
    Index(i64),
}

impl PathStep {
    /// The path as Terraform writes it: `rule[0].ports["http"]`.
    pub fn display(path: &[PathStep]) -> String {
        let mut s = String::new();
        for step in path {
            match step {
                PathStep::Attr(n) => {
                    if !s.is_empty() {
                        s.push('.');
                    }
                    s.push_str(n);
                }
                PathStep::Key(k) => {
                    let _ = write!(s, "[{k:?}]");
                }
                PathStep::Index(i) => {
                    let _ = write!(s, "[{i}]");
                }
            }
        }
        s
    }
}

/// A byte range in one source file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    pub file: Arc<str>,
    pub start: usize,
    pub end: usize,
}

/// A line and column (both one-based, the column counted in characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub summary: String,
    pub detail: String,
    pub span: Option<Span>,
}

impl Diagnostic {
    pub fn error(summary: impl Into<String>, detail: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            summary: summary.into(),
            detail: detail.into(),
            span: None,
        }
    }

    pub fn warning(summary: impl Into<String>, detail: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            summary: summary.into(),
            detail: detail.into(),
            span: None,
        }
    }

    pub fn with_span(mut self, span: Option<Span>) -> Diagnostic {
        if self.span.is_none() {
            self.span = span;
        }
        self
    }

    /// Renders the diagnostic for a terminal: summary, location, the source line with a
    /// caret marker under the offending text, then the detail.
    pub fn render(&self, sources: &SourceMap, color: bool) -> String {
        let (label, code) = match self.severity {
            Severity::Error => ("Error", "\x1b[1;31m"),
            Severity::Warning => ("Warning", "\x1b[1;33m"),
        };
        let mut out = String::new();
        if color {
            let _ = writeln!(out, "{code}{label}:\x1b[0m \x1b[1m{}\x1b[0m", self.summary);
        } else {
            let _ = writeln!(out, "{label}: {}", self.summary);
        }
        if let Some(span) = &self.span {
            if let Some(text) = sources.get(&span.file) {
                let pos = line_col(text, span.start);
                let _ = writeln!(
                    out,
                    "\n  on {} line {}, column {}:",
                    span.file, pos.line, pos.column
                );
                let line_text = text.lines().nth(pos.line - 1).unwrap_or("");
                let gutter = pos.line.to_string();
                let _ = writeln!(out, "  {gutter} | {line_text}");
                let line_start = span.start + 1 - pos.column.min(span.start + 1);
                let line_end = line_start + line_text.len();
                let end = span.end.clamp(span.start + 1, line_end.max(span.start + 1));
                let width = text
                    .get(span.start..end.min(text.len()))
                    .map(|s| s.chars().count())
                    .unwrap_or(1)
                    .max(1);
                let pad: String = line_text
                    .chars()
                    .take(pos.column - 1)
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                let marker = "^".repeat(width);
                let blank = " ".repeat(gutter.len());
                if color {
                    let _ = writeln!(out, "  {blank} | {pad}{code}{marker}\x1b[0m");
                } else {
                    let _ = writeln!(out, "  {blank} | {pad}{marker}");
                }
            } else {
                let _ = writeln!(out, "\n  in {}", span.file);
            }
        }
        if !self.detail.is_empty() {
            let _ = writeln!(out, "\n{}", self.detail);
        }
        out
    }

    /// Location as `file:line:column`, when the diagnostic has a span.
    pub fn location(&self, sources: &SourceMap) -> Option<(Arc<str>, Pos)> {
        let span = self.span.as_ref()?;
        let text = sources.get(&span.file)?;
        Some((span.file.clone(), line_col(text, span.start)))
    }
}

/// Computes the one-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> Pos {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let index = LineIndex::new(text);
    let line = index.line(offset);
    let column = text[index.starts[line - 1]..offset].chars().count() + 1;
    Pos { line, column }
}

/// Where each line of a text starts, to turn byte offsets into lines and lines into
/// text in logarithmic and constant time.
#[derive(Clone, Debug)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    /// The one-based line of a byte offset.
    pub fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|s| *s <= offset)
    }

    /// Line `line` (one-based) of `text`, without its line break.
    pub fn text<'t>(&self, text: &'t str, line: usize) -> Option<&'t str> {
        let start = *self.starts.get(line.checked_sub(1)?)?;
        let end = self.starts.get(line).map(|e| e - 1).unwrap_or(text.len());
        text.get(start..end).map(|l| l.trim_end_matches('\r'))
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A list of diagnostics collected during one operation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn new() -> Diagnostics {
        Diagnostics(Vec::new())
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Diagnostics {
        Diagnostics(vec![d])
    }
}

/// The text of every loaded source file, by the name diagnostics use for it.
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    files: BTreeMap<Arc<str>, Arc<str>>,
}

impl SourceMap {
    pub fn insert(&mut self, name: Arc<str>, text: Arc<str>) {
        self.files.insert(name, text);
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.files.get(name).map(|t| &**t)
    }

    /// Every file, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().map(|(k, v)| (&**k, &**v))
    }
}

impl Diagnostics {
    /// `terrane validate --json`: the document Terraform's `validate -json` prints
    /// (`valid`, the counts, and each diagnostic with its range).
    pub fn to_validate_json(&self, sources: &SourceMap) -> serde_json::Value {
        let (diags, ws_sources) = (self, sources);
        let list: Vec<serde_json::Value> = diags
            .iter()
            .map(|d| {
                let range = d.location(ws_sources).map(|(file, pos)| serde_json::json!({"filename": file.to_string(), "start": {"line": pos.line, "column": pos.column}}));
                serde_json::json!({
                    "severity": if d.severity == Severity::Error { "error" } else { "warning" },
                    "summary": d.summary, "detail": d.detail, "range": range,
                })
            })
            .collect();
        let errors = diags
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        serde_json::json!({
            "format_version": "1.0", "valid": errors == 0, "error_count": errors,
            "warning_count": diags.0.len() - errors, "diagnostics": list,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_caret_under_span() {
        let mut sources = SourceMap::default();
        let text = "a = 1\nb = foo.bar\n";
        sources.insert("main.tf".into(), text.into());
        let start = text.find("foo").unwrap();
        let d = Diagnostic::error("Unknown thing", "Declare it first.").with_span(Some(Span {
            file: "main.tf".into(),
            start,
            end: start + 7,
        }));
        let out = d.render(&sources, false);
        assert_eq!(
            out,
            "Error: Unknown thing\n\n  on main.tf line 2, column 5:\n  2 | b = foo.bar\n    |     ^^^^^^^\n\nDeclare it first.\n"
        );
    }
}
