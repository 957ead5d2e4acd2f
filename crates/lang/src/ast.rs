//! terrane's own expression tree, converted from `hcl-edit`'s syntax tree.
//!
//! `hcl-edit` parses and keeps byte spans; this module turns its tree into a compact one
//! that the evaluator walks quickly and that every diagnostic can point into. Static
//! references (`var.x`, `aws_vpc.main.id`) are extracted here for the dependency graph.

use std::sync::Arc;

use hcl_edit::expr::{BinaryOperator, Expression, ObjectKey, TraversalOperator, UnaryOperator};
use hcl_edit::template::{Directive, Element, Strip, Template};
use hcl_edit::Span as _;
use terrane_core::{Number, Span, Value};

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Literal(Value),
    Template(Vec<TemplatePart>),
    /// A bare identifier: the root of a reference or a `for` variable.
    Var(String),
    Traversal(Box<Expr>, Vec<TravOp>),
    Call {
        name: String,
        args: Vec<Expr>,
        expand_final: bool,
    },
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Tuple(Vec<Expr>),
    Object(Vec<(Expr, Expr)>),
    For(Box<ForExpr>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum TravOp {
    Attr(String, Span),
    Index(Expr),
    /// `[*]`: the rest of the operators apply to every element.
    Splat,
    /// The legacy `.*`: the attribute names that follow apply to every element; an
    /// index after them applies to the resulting list (`a.*.b[0]` is `[a[0].b, ...][0]`).
    AttrSplat,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UnOp {
    Neg,
    Not,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BinOp {
    Eq,
    NotEq,
    Less,
    LessEq,
    Greater,
    GreaterEq,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    And,
    Or,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ForExpr {
    pub key_var: Option<String>,
    pub value_var: String,
    pub collection: Expr,
    pub key_expr: Option<Expr>,
    pub value_expr: Expr,
    pub grouping: bool,
    pub cond: Option<Expr>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TemplatePart {
    Literal(String),
    Interp(Expr),
    If {
        cond: Expr,
        then: Vec<TemplatePart>,
        otherwise: Vec<TemplatePart>,
    },
    For {
        key_var: Option<String>,
        value_var: String,
        collection: Expr,
        body: Vec<TemplatePart>,
    },
}

/// A number literal with the precision Terraform gives it: its source text read at 512
/// bits (the parser's own value is a 64-bit float).
fn literal_number(n: &hcl_edit::Formatted<hcl_edit::Number>) -> Number {
    n.as_repr()
        .and_then(|raw| {
            let text: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
            Number::parse(&text)
        })
        .unwrap_or_else(|| match n.value().as_i64() {
            Some(i) => Number::from_i64(i),
            None => Number::from_f64(n.value().as_f64().unwrap_or(0.0)),
        })
}

/// Converts hcl-edit nodes, attaching spans in the named file.
pub struct Converter {
    pub file: Arc<str>,
    /// Offset added to every span (non-zero when a template file is parsed on its own).
    pub base: usize,
    /// Object keys renamed so that the parser accepts a repeated key, by the offset of
    /// the key: their real names (see [`crate::config::parse_body`]).
    pub renamed_keys: std::collections::BTreeMap<usize, String>,
    /// The text the parser read (spans, less `base`, index into it).
    pub source: Arc<str>,
}

impl Converter {
    pub fn span(&self, range: Option<std::ops::Range<usize>>) -> Span {
        let r = range.unwrap_or(0..0);
        Span {
            file: self.file.clone(),
            start: r.start + self.base,
            end: r.end + self.base,
        }
    }

    pub fn expr(&self, e: &Expression) -> Expr {
        let span = self.span(e.span());
        let kind = match e {
            Expression::Null(_) => ExprKind::Literal(Value::Null),
            Expression::Bool(b) => ExprKind::Literal(Value::Bool(*b.value())),
            Expression::Number(n) => ExprKind::Literal(Value::Number(literal_number(n))),
            Expression::String(s) => ExprKind::Literal(Value::String(nfc(s.value()))),
            Expression::Array(a) => ExprKind::Tuple(a.iter().map(|x| self.expr(x)).collect()),
            Expression::Object(o) => ExprKind::Object(
                o.iter()
                    .map(|(k, v)| {
                        let mut key = match k {
                            ObjectKey::Ident(id) => Expr {
                                kind: ExprKind::Literal(Value::String(id.value().to_string())),
                                span: self.span(id.span()),
                            },
                            ObjectKey::Expression(x) => self.expr(x),
                        };
                        if let Some(real) = self
                            .renamed_keys
                            .get(&key.span.start.saturating_sub(self.base))
                        {
                            key.kind = ExprKind::Literal(Value::String(real.clone()));
                        }
                        (key, self.expr(v.expr()))
                    })
                    .collect(),
            ),
            Expression::StringTemplate(t) => template_kind(self.template(t, TemplateKind::Quoted)),
            Expression::HeredocTemplate(h) => {
                let flush = h
                    .span()
                    .and_then(|r| self.source.get(r.start..))
                    .is_some_and(|s| s.starts_with("<<-"));
                let kind = if flush {
                    TemplateKind::FlushHeredoc
                } else {
                    TemplateKind::Heredoc
                };
                template_kind(self.template(&h.template, kind))
            }
            Expression::Parenthesis(p) => return self.expr(p.inner()),
            Expression::Variable(v) => ExprKind::Var(v.value().to_string()),
            Expression::Conditional(c) => ExprKind::Cond(
                Box::new(self.expr(&c.cond_expr)),
                Box::new(self.expr(&c.true_expr)),
                Box::new(self.expr(&c.false_expr)),
            ),
            Expression::FuncCall(f) => {
                let mut name = String::new();
                for ns in &f.name.namespace {
                    name.push_str(ns.value());
                    name.push_str("::");
                }
                name.push_str(f.name.name.value());
                ExprKind::Call {
                    name,
                    args: f.args.iter().map(|a| self.expr(a)).collect(),
                    expand_final: f.args.expand_final(),
                }
            }
            Expression::Traversal(t) => {
                let root = self.expr(&t.expr);
                let ops = t
                    .operators
                    .iter()
                    .map(|op| match op.value() {
                        TraversalOperator::AttrSplat(_) => TravOp::AttrSplat,
                        TraversalOperator::FullSplat(_) => TravOp::Splat,
                        TraversalOperator::GetAttr(id) => {
                            TravOp::Attr(id.value().to_string(), self.span(op.span()))
                        }
                        TraversalOperator::Index(x) => TravOp::Index(self.expr(x)),
                        TraversalOperator::LegacyIndex(i) => TravOp::Index(Expr {
                            kind: ExprKind::Literal(Value::Number(Number::from(*i.value()))),
                            span: self.span(op.span()),
                        }),
                    })
                    .collect();
                ExprKind::Traversal(Box::new(root), ops)
            }
            Expression::UnaryOp(u) => {
                let op = match u.operator.value() {
                    UnaryOperator::Neg => UnOp::Neg,
                    UnaryOperator::Not => UnOp::Not,
                };
                ExprKind::Unary(op, Box::new(self.expr(&u.expr)))
            }
            Expression::BinaryOp(b) => {
                let op = match b.operator.value() {
                    BinaryOperator::Eq => BinOp::Eq,
                    BinaryOperator::NotEq => BinOp::NotEq,
                    BinaryOperator::LessEq => BinOp::LessEq,
                    BinaryOperator::GreaterEq => BinOp::GreaterEq,
                    BinaryOperator::Less => BinOp::Less,
                    BinaryOperator::Greater => BinOp::Greater,
                    BinaryOperator::Plus => BinOp::Add,
                    BinaryOperator::Minus => BinOp::Sub,
                    BinaryOperator::Mul => BinOp::Mul,
                    BinaryOperator::Div => BinOp::Div,
                    BinaryOperator::Mod => BinOp::Mod,
                    BinaryOperator::And => BinOp::And,
                    BinaryOperator::Or => BinOp::Or,
                };
                ExprKind::Binary(
                    op,
                    Box::new(self.expr(&b.lhs_expr)),
                    Box::new(self.expr(&b.rhs_expr)),
                )
            }
            Expression::ForExpr(f) => ExprKind::For(Box::new(ForExpr {
                key_var: f.intro.key_var.as_ref().map(|k| k.value().to_string()),
                value_var: f.intro.value_var.value().to_string(),
                collection: self.expr(&f.intro.collection_expr),
                key_expr: f.key_expr.as_ref().map(|k| self.expr(k)),
                value_expr: self.expr(&f.value_expr),
                grouping: f.grouping,
                cond: f.cond.as_ref().map(|c| self.expr(&c.expr)),
            })),
        };
        Expr { kind, span }
    }

    /// Lowers a template as HCL's parser reads it: a flat run of tokens (each line of a
    /// heredoc or template file its own literal token), the `~` strip markers applied to
    /// the one literal token beside each tag, then the indentation of a `<<-` heredoc
    /// removed from the stripped tokens, then the tree built.
    pub fn template(&self, t: &Template, kind: TemplateKind) -> Vec<TemplatePart> {
        let mut toks = Tokens::default();
        self.flatten(t, kind, false, &mut toks);
        let mut toks = toks.toks;
        if kind == TemplateKind::FlushHeredoc {
            flush_heredoc(&mut toks);
        }
        let mut melded: Vec<Tok> = Vec::with_capacity(toks.len());
        for tok in toks {
            match (melded.last_mut(), tok) {
                (Some(Tok::Lit(prev)), Tok::Lit(next)) => prev.push_str(&next),
                (_, tok) => melded.push(tok),
            }
        }
        build_template(&mut melded.into_iter()).0
    }

    fn flatten(&self, t: &Template, kind: TemplateKind, nested: bool, out: &mut Tokens) {
        for el in t.iter() {
            match el {
                Element::Literal(s) => {
                    let text = self.literal_text(s, kind, nested);
                    if kind == TemplateKind::Quoted {
                        out.lit(nfc(&text));
                    } else {
                        for line in text.split_inclusive('\n') {
                            out.lit(nfc(line));
                        }
                    }
                }
                Element::Interpolation(i) => out.tag(Tok::Interp(self.expr(&i.expr)), i.strip),
                Element::Directive(d) => match &**d {
                    Directive::If(ifd) => {
                        let cond = self.expr(&ifd.if_expr.cond_expr);
                        out.tag(Tok::If(cond), ifd.if_expr.strip);
                        self.flatten(&ifd.if_expr.template, kind, true, out);
                        if let Some(e) = &ifd.else_expr {
                            out.tag(Tok::Else, e.strip);
                            self.flatten(&e.template, kind, true, out);
                        }
                        out.tag(Tok::EndIf, ifd.endif_expr.strip);
                    }
                    Directive::For(ford) => {
                        let f = &ford.for_expr;
                        let head = Tok::For {
                            key_var: f.key_var.as_ref().map(|k| k.value().to_string()),
                            value_var: f.value_var.value().to_string(),
                            collection: self.expr(&f.collection_expr),
                        };
                        out.tag(head, f.strip);
                        self.flatten(&f.template, kind, true, out);
                        out.tag(Tok::EndFor, ford.endfor_expr.strip);
                    }
                },
            }
        }
    }

    /// A literal's text. hcl-edit has already removed a `<<-` heredoc's indentation by
    /// its own rule (HCL removes it after stripping), so those literals are read again
    /// from the source; and it leaves the escapes of a quoted string's literals inside a
    /// directive (`"%{ if c }a\\n%{ endif }"`) as written, so those are read again as a
    /// quoted string.
    fn literal_text(
        &self,
        s: &hcl_edit::Spanned<String>,
        kind: TemplateKind,
        nested: bool,
    ) -> String {
        let raw = s.span().and_then(|r| self.source.get(r));
        match (kind, raw) {
            (TemplateKind::FlushHeredoc, Some(raw)) => {
                raw.replace("$${", "${").replace("%%{", "%{")
            }
            (TemplateKind::Quoted, Some(raw)) if nested => {
                match hcl_edit::parser::parse_expr(&format!("\"{raw}\"")) {
                    Ok(Expression::String(v)) => v.value().to_string(),
                    _ => s.value().to_string(),
                }
            }
            _ => s.value().to_string(),
        }
    }
}

/// How a template's text is written, which decides how HCL splits it into tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemplateKind {
    /// `"..."`: each run of text is one token, escapes already read.
    Quoted,
    /// `<<EOT`: each line is its own token.
    Heredoc,
    /// `<<-EOT`: each line its own token, and the common indentation removed.
    FlushHeredoc,
    /// A template file or `templatestring`: each line is its own token.
    Bare,
}

/// A template token: a literal, an interpolation or one tag of a directive.
enum Tok {
    Lit(String),
    Interp(Expr),
    If(Expr),
    Else,
    EndIf,
    For {
        key_var: Option<String>,
        value_var: String,
        collection: Expr,
    },
    EndFor,
}

/// The token run being built, with the strip markers applied as tokens arrive: a
/// tag's leading `~` trims the literal token just before it, its trailing `~` the
/// literal token just after it (and nothing further).
#[derive(Default)]
struct Tokens {
    toks: Vec<Tok>,
    trim_next: bool,
    prev_is_lit: bool,
}

impl Tokens {
    fn lit(&mut self, text: String) {
        let text = if std::mem::take(&mut self.trim_next) {
            text.trim_start().to_string()
        } else {
            text
        };
        self.toks.push(Tok::Lit(text));
        self.prev_is_lit = true;
    }

    fn tag(&mut self, tok: Tok, strip: Strip) {
        if matches!(strip, Strip::Start | Strip::Both) && self.prev_is_lit {
            if let Some(Tok::Lit(prev)) = self.toks.last_mut() {
                prev.truncate(prev.trim_end().len());
            }
        }
        self.toks.push(tok);
        self.trim_next = matches!(strip, Strip::End | Strip::Both);
        self.prev_is_lit = false;
    }
}

/// Removes a `<<-` heredoc's indentation as HCL does, from the tokens after stripping:
/// the fewest leading spaces (in grapheme clusters) of any line's first token, where a
/// line starting with an interpolation or directive counts as none and a blank line
/// does not count (and keeps its spaces).
fn flush_heredoc(toks: &mut [Tok]) {
    use unicode_segmentation::UnicodeSegmentation as _;
    let mut fewest = usize::MAX;
    let mut line_start = true;
    let mut adjust = Vec::new();
    for (i, tok) in toks.iter().enumerate() {
        if std::mem::take(&mut line_start) {
            let spaces = match tok {
                Tok::Lit(s) => {
                    let rest = s.trim_start();
                    if rest.is_empty() && s.ends_with('\n') {
                        usize::MAX
                    } else {
                        adjust.push(i);
                        s[..s.len() - rest.len()].graphemes(true).count()
                    }
                }
                _ => 0,
            };
            fewest = fewest.min(spaces);
        }
        if let Tok::Lit(s) = tok {
            line_start = s.ends_with('\n');
        }
    }
    if fewest == 0 || fewest == usize::MAX {
        return;
    }
    for i in adjust {
        if let Tok::Lit(s) = &mut toks[i] {
            let cut = s
                .grapheme_indices(true)
                .nth(fewest)
                .map_or(s.len(), |(at, _)| at);
            s.drain(..cut);
        }
    }
}

/// Builds the template tree from the token run; returns the parts up to the tag that
/// ends them (`else`, `endif`, `endfor`), which the parser has already checked nest.
fn build_template(toks: &mut std::vec::IntoIter<Tok>) -> (Vec<TemplatePart>, Option<Tok>) {
    let mut parts = Vec::new();
    while let Some(tok) = toks.next() {
        match tok {
            Tok::Lit(s) => parts.push(TemplatePart::Literal(s)),
            Tok::Interp(e) => parts.push(TemplatePart::Interp(e)),
            Tok::If(cond) => {
                let (then, end) = build_template(toks);
                let otherwise = match end {
                    Some(Tok::Else) => build_template(toks).0,
                    _ => Vec::new(),
                };
                parts.push(TemplatePart::If {
                    cond,
                    then,
                    otherwise,
                });
            }
            Tok::For {
                key_var,
                value_var,
                collection,
            } => {
                let (body, _) = build_template(toks);
                parts.push(TemplatePart::For {
                    key_var,
                    value_var,
                    collection,
                    body,
                });
            }
            end @ (Tok::Else | Tok::EndIf | Tok::EndFor) => return (parts, Some(end)),
        }
    }
    (parts, None)
}

/// Text in Unicode's composed form (NFC), as Terraform keeps every string: `"e\u0301"`
/// and `"\u00e9"` are one string. ASCII and text already composed are copied as they are.
fn nfc(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization as _;
    if s.is_ascii()
        || unicode_normalization::is_nfc_quick(s.chars())
            == unicode_normalization::IsNormalized::Yes
    {
        s.to_string()
    } else {
        s.nfc().collect()
    }
}

/// Parses one expression typed outside any file (`terrane console`); spans point into
/// `text`, named `name`.
pub fn parse_expression(text: &str, name: &str) -> Result<Expr, terrane_core::Diagnostic> {
    let parsed = hcl_edit::parser::parse_expr(text).map_err(|e| {
        terrane_core::Diagnostic::error(
            "Invalid expression",
            format!("{name}, column {}: {}", e.location().column(), e.message()),
        )
    })?;
    let cv = Converter {
        file: Arc::from(name),
        base: 0,
        renamed_keys: Default::default(),
        source: Arc::from(text),
    };
    Ok(cv.expr(&parsed))
}

impl Expr {
    /// The expression as an address text (`module.a.type.name["k"]`), when it is a
    /// static reference: names, attributes and literal indexes only.
    pub fn address_text(&self) -> Option<String> {
        let ExprKind::Traversal(root, ops) = &self.kind else {
            return match &self.kind {
                ExprKind::Var(name) => Some(name.clone()),
                _ => None,
            };
        };
        let ExprKind::Var(name) = &root.kind else {
            return None;
        };
        let mut out = name.clone();
        for op in ops {
            match op {
                TravOp::Attr(a, _) => {
                    out.push('.');
                    out.push_str(a);
                }
                TravOp::Index(Expr {
                    kind: ExprKind::Literal(Value::Number(n)),
                    ..
                }) if n.as_usize().is_some() => {
                    out.push_str(&format!("[{n}]"));
                }
                TravOp::Index(Expr {
                    kind: ExprKind::Literal(Value::String(s)),
                    ..
                }) => {
                    out.push_str(&format!("[{s:?}]"));
                }
                _ => return None,
            }
        }
        Some(out)
    }
}

fn template_kind(parts: Vec<TemplatePart>) -> ExprKind {
    match parts.as_slice() {
        [] => ExprKind::Literal(Value::String(String::new())),
        [TemplatePart::Literal(s)] => ExprKind::Literal(Value::String(s.clone())),
        _ => ExprKind::Template(parts),
    }
}

/// Where [`Expr::collect_refs`] sends each reference: the reference, its span, and the
/// traversal steps after it.
type RefSink<'a> = dyn FnMut(Reference, &Span, &[TravOp]) + 'a;

/// A static reference found in an expression, such as `var.region` or `aws_vpc.main`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reference {
    Var(String),
    Local(String),
    Resource {
        type_name: String,
        name: String,
    },
    Data {
        type_name: String,
        name: String,
    },
    ModuleOutput {
        module: String,
        output: Option<String>,
    },
    CountIndex,
    EachKey,
    EachValue,
    Path(String),
    SelfRef,
    Workspace,
    /// Something that cannot be a reference (for example `foo` alone).
    Invalid(String),
}

impl Reference {
    /// The number of leading traversal steps this reference consumes after the root name.
    fn from_parts(root: &str, attrs: &[&str]) -> (Reference, usize) {
        let one = |f: fn(String) -> Reference| match attrs.first() {
            Some(a) => (f(a.to_string()), 1),
            None => (Reference::Invalid(root.to_string()), 0),
        };
        match root {
            "var" => one(Reference::Var),
            "local" => one(Reference::Local),
            "path" => one(Reference::Path),
            "self" => (Reference::SelfRef, 0),
            "terraform" => (Reference::Workspace, attrs.len().min(1)),
            "count" => match attrs.first() {
                Some(&"index") => (Reference::CountIndex, 1),
                _ => (Reference::Invalid("count".into()), 0),
            },
            "each" => match attrs.first() {
                Some(&"key") => (Reference::EachKey, 1),
                Some(&"value") => (Reference::EachValue, 1),
                _ => (Reference::Invalid("each".into()), 0),
            },
            "module" => match attrs {
                [m, o, ..] => (
                    Reference::ModuleOutput {
                        module: m.to_string(),
                        output: Some(o.to_string()),
                    },
                    2,
                ),
                [m] => (
                    Reference::ModuleOutput {
                        module: m.to_string(),
                        output: None,
                    },
                    1,
                ),
                [] => (Reference::Invalid("module".into()), 0),
            },
            "data" => match attrs {
                [t, n, ..] => (
                    Reference::Data {
                        type_name: t.to_string(),
                        name: n.to_string(),
                    },
                    2,
                ),
                _ => (Reference::Invalid("data".into()), 0),
            },
            _ => match attrs.first() {
                Some(n) => (
                    Reference::Resource {
                        type_name: root.to_string(),
                        name: n.to_string(),
                    },
                    1,
                ),
                None => (Reference::Invalid(root.to_string()), 0),
            },
        }
    }

    /// Splits a traversal rooted at `root` into the reference and the remaining operators.
    pub fn split<'a>(root: &str, ops: &'a [TravOp]) -> (Reference, &'a [TravOp]) {
        let attrs: Vec<&str> = ops
            .iter()
            .take(2)
            .map_while(|op| match op {
                TravOp::Attr(a, _) => Some(a.as_str()),
                _ => None,
            })
            .collect();
        let (r, used) = Reference::from_parts(root, &attrs);
        (r, &ops[used..])
    }
}

impl Expr {
    /// Every static reference in the expression, with its span, skipping `for` variables.
    pub fn references(&self) -> Vec<(Reference, Span)> {
        self.references_bound(&[])
    }

    /// The references of this expression where `bound` names are local (the iterators
    /// of enclosing `dynamic` blocks), not references.
    pub fn references_bound(&self, bound: &[String]) -> Vec<(Reference, Span)> {
        let mut out = Vec::new();
        let mut bound = bound.to_vec();
        self.collect_refs(&mut bound, &mut |r, span, _| out.push((r, span.clone())));
        out
    }

    /// Calls `f` with each reference and the traversal steps that follow it.
    pub fn each_reference(&self, mut f: impl FnMut(Reference, &[TravOp])) {
        self.collect_refs(&mut Vec::new(), &mut |r, _, rest| f(r, rest));
    }

    /// Every reference with its span and the traversal steps after it (`[0].output` of
    /// `aws_x.a[0].output`), skipping the `bound` names.
    fn collect_refs(&self, bound: &mut Vec<String>, out: &mut RefSink<'_>) {
        match &self.kind {
            ExprKind::Literal(_) => {}
            ExprKind::Var(name) => {
                if !bound.contains(name) {
                    out(Reference::split(name, &[]).0, &self.span, &[]);
                }
            }
            ExprKind::Traversal(root, ops) => {
                if let ExprKind::Var(name) = &root.kind {
                    if !bound.contains(name) {
                        let (r, rest) = Reference::split(name, ops);
                        out(r, &self.span, rest);
                    }
                } else {
                    root.collect_refs(bound, out);
                }
                for op in ops {
                    if let TravOp::Index(e) = op {
                        e.collect_refs(bound, out);
                    }
                }
            }
            ExprKind::Template(parts) => collect_template_refs(parts, bound, out),
            ExprKind::Call { args, .. } | ExprKind::Tuple(args) => {
                for a in args {
                    a.collect_refs(bound, out);
                }
            }
            ExprKind::Cond(a, b, c) => {
                a.collect_refs(bound, out);
                b.collect_refs(bound, out);
                c.collect_refs(bound, out);
            }
            ExprKind::Unary(_, a) => a.collect_refs(bound, out),
            ExprKind::Binary(_, a, b) => {
                a.collect_refs(bound, out);
                b.collect_refs(bound, out);
            }
            ExprKind::Object(items) => {
                for (k, v) in items {
                    k.collect_refs(bound, out);
                    v.collect_refs(bound, out);
                }
            }
            ExprKind::For(f) => {
                f.collection.collect_refs(bound, out);
                let n = bound.len();
                bound.extend(f.key_var.iter().cloned());
                bound.push(f.value_var.clone());
                if let Some(k) = &f.key_expr {
                    k.collect_refs(bound, out);
                }
                f.value_expr.collect_refs(bound, out);
                if let Some(c) = &f.cond {
                    c.collect_refs(bound, out);
                }
                bound.truncate(n);
            }
        }
    }

    /// References to resource attributes, for static checks: each resource or data
    /// reference, whether an instance key (index or splat) follows it, and the first
    /// attribute name read from it (if any).
    pub fn resource_attr_refs(&self) -> Vec<ResourceAttrRef> {
        let mut out = Vec::new();
        self.walk(&mut |e| {
            if let ExprKind::Traversal(root, ops) = &e.kind {
                if let ExprKind::Var(name) = &root.kind {
                    let (r, rest) = Reference::split(name, ops);
                    if matches!(r, Reference::Resource { .. } | Reference::Data { .. }) {
                        let keyed = matches!(
                            rest.first(),
                            Some(TravOp::Index(_) | TravOp::Splat | TravOp::AttrSplat)
                        );
                        let attr = rest
                            .iter()
                            .skip(usize::from(keyed))
                            .find_map(|op| match op {
                                TravOp::Attr(a, span) => Some((a.clone(), span.clone())),
                                _ => None,
                            });
                        let attr = match (keyed, rest.first()) {
                            (false, Some(TravOp::Attr(..))) | (true, _) => attr,
                            _ => None,
                        };
                        out.push(ResourceAttrRef {
                            reference: r,
                            keyed,
                            attr,
                            span: e.span.clone(),
                        });
                    }
                }
            }
        });
        out
    }

    /// Calls `f` on this expression and every sub-expression.
    pub fn walk(&self, f: &mut dyn FnMut(&Expr)) {
        f(self);
        match &self.kind {
            ExprKind::Literal(_) | ExprKind::Var(_) => {}
            ExprKind::Traversal(root, ops) => {
                root.walk(f);
                for op in ops {
                    if let TravOp::Index(e) = op {
                        e.walk(f);
                    }
                }
            }
            ExprKind::Template(parts) => walk_template(parts, f),
            ExprKind::Call { args, .. } | ExprKind::Tuple(args) => {
                for a in args {
                    a.walk(f);
                }
            }
            ExprKind::Cond(a, b, c) => {
                a.walk(f);
                b.walk(f);
                c.walk(f);
            }
            ExprKind::Unary(_, a) => a.walk(f),
            ExprKind::Binary(_, a, b) => {
                a.walk(f);
                b.walk(f);
            }
            ExprKind::Object(items) => {
                for (k, v) in items {
                    k.walk(f);
                    v.walk(f);
                }
            }
            ExprKind::For(fe) => {
                fe.collection.walk(f);
                if let Some(k) = &fe.key_expr {
                    k.walk(f);
                }
                fe.value_expr.walk(f);
                if let Some(c) = &fe.cond {
                    c.walk(f);
                }
            }
        }
    }

    /// A literal string value, if the expression is one (used for meta-arguments).
    pub fn as_literal_str(&self) -> Option<&str> {
        match &self.kind {
            ExprKind::Literal(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    /// The dotted form of a plain traversal (`aws_vpc.main`, `var.x`), if it is one.
    pub fn as_traversal_path(&self) -> Option<String> {
        match &self.kind {
            ExprKind::Var(v) => Some(v.clone()),
            ExprKind::Traversal(root, ops) => {
                let mut s = match &root.kind {
                    ExprKind::Var(v) => v.clone(),
                    _ => return None,
                };
                for op in ops {
                    match op {
                        TravOp::Attr(a, _) => {
                            s.push('.');
                            s.push_str(a);
                        }
                        _ => return None,
                    }
                }
                Some(s)
            }
            _ => None,
        }
    }
}

fn walk_template(parts: &[TemplatePart], f: &mut dyn FnMut(&Expr)) {
    for p in parts {
        match p {
            TemplatePart::Literal(_) => {}
            TemplatePart::Interp(e) => e.walk(f),
            TemplatePart::If {
                cond,
                then,
                otherwise,
            } => {
                cond.walk(f);
                walk_template(then, f);
                walk_template(otherwise, f);
            }
            TemplatePart::For {
                collection, body, ..
            } => {
                collection.walk(f);
                walk_template(body, f);
            }
        }
    }
}

/// A reference to a resource found by [`Expr::resource_attr_refs`].
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceAttrRef {
    pub reference: Reference,
    /// An index or splat follows the resource name.
    pub keyed: bool,
    /// The attribute read from the instance, with its span.
    pub attr: Option<(String, Span)>,
    pub span: Span,
}

fn collect_template_refs(parts: &[TemplatePart], bound: &mut Vec<String>, out: &mut RefSink<'_>) {
    for p in parts {
        match p {
            TemplatePart::Literal(_) => {}
            TemplatePart::Interp(e) => e.collect_refs(bound, out),
            TemplatePart::If {
                cond,
                then,
                otherwise,
            } => {
                cond.collect_refs(bound, out);
                collect_template_refs(then, bound, out);
                collect_template_refs(otherwise, bound, out);
            }
            TemplatePart::For {
                key_var,
                value_var,
                collection,
                body,
            } => {
                collection.collect_refs(bound, out);
                let n = bound.len();
                bound.extend(key_var.iter().cloned());
                bound.push(value_var.clone());
                collect_template_refs(body, bound, out);
                bound.truncate(n);
            }
        }
    }
}
