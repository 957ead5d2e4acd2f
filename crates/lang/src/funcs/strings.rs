//! String functions: case, trimming, searching, splitting and joining, Go-style
//! formatting (`format`, `formatlist`), and regular expressions (`regex`, `regexall`,
//! `replace` with a `/pattern/`) in RE2's syntax, which the `regex` crate implements.

use std::fmt::Write as _;

use terrane_core::{Type, Value};

use super::encoding::json_encode;
use super::{prim_str, to_num, whole, Args, Func, FuncContext, MAX_SIZE};

/// This family's rows of the registration table.
pub(super) const FUNCS: &[Func] = &[
    Func::exactly("chomp", 1, chomp),
    Func::exactly("endswith", 2, endswith),
    Func::at_least("format", 1, format),
    Func::at_least("formatlist", 1, formatlist),
    Func::exactly("indent", 2, indent),
    Func::at_least("join", 2, join),
    Func::exactly("lower", 1, lower),
    Func::exactly("regex", 2, regex_fn),
    Func::exactly("regexall", 2, regexall),
    Func::exactly("replace", 3, replace),
    Func::exactly("split", 2, split),
    Func::exactly("startswith", 2, startswith),
    Func::exactly("strcontains", 2, strcontains),
    Func::exactly("strrev", 1, strrev),
    Func::exactly("substr", 3, substr),
    Func::exactly("title", 1, title),
    Func::exactly("trim", 2, trim),
    Func::exactly("trimprefix", 2, trimprefix),
    Func::exactly("trimspace", 1, trimspace),
    Func::exactly("trimsuffix", 2, trimsuffix),
    Func::exactly("upper", 1, upper),
];

fn chomp(a: &Args, _: &FuncContext) -> Result<Value, String> {
    Ok(Value::String(
        a.str(0)?.trim_end_matches(['\r', '\n']).to_string(),
    ))
}

fn endswith(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let (s, part) = (a.str(0)?, a.str(1)?);
    Ok(Value::Bool(s.ends_with(&part)))
}

fn startswith(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let (s, part) = (a.str(0)?, a.str(1)?);
    Ok(Value::Bool(s.starts_with(&part)))
}

fn strcontains(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let (s, part) = (a.str(0)?, a.str(1)?);
    Ok(Value::Bool(s.contains(&part)))
}

fn format(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let spec = a.str(0)?;
    format_values(a.name, &spec, a.v.get(1..).unwrap_or_default()).map(Value::String)
}

/// `format` once per element of the list arguments (which must have one length);
/// arguments that are not lists repeat on every line.
fn formatlist(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let spec = a.str(0)?;
    let args = a.v.get(1..).unwrap_or_default();
    let mut len: Option<usize> = None;
    for (i, v) in args.iter().enumerate() {
        if let Some(items) = v.as_items() {
            match len {
                Some(l) if l != items.len() => {
                    let k = items.len();
                    return Err(format!(
                        "formatlist() argument {} has length {k}, but other lists have length {l}",
                        i + 2
                    ));
                }
                _ => len = Some(items.len()),
            }
        }
    }
    (0..len.unwrap_or(1))
        .map(|k| {
            let row: Vec<Value> = args
                .iter()
                .map(|v| match v.as_items() {
                    Some(items) => items.get(k).cloned().unwrap_or_default(),
                    None => v.clone(),
                })
                .collect();
            format_values("formatlist", &spec, &row).map(Value::String)
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Value::List)
}

fn indent(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let n = a.int(0)?;
    let n = usize::try_from(n)
        .ok()
        .filter(|n| *n <= MAX_SIZE)
        .ok_or_else(|| format!("indent() cannot indent by {n} spaces"))?;
    let pad = format!("\n{}", " ".repeat(n));
    Ok(Value::String(a.str(1)?.replace('\n', &pad)))
}

fn join(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let sep = a.str(0)?;
    let mut parts = Vec::new();
    for i in 1..a.v.len() {
        parts.extend(a.strs(i)?);
    }
    Ok(Value::String(parts.join(&sep)))
}

/// Case mapping character by character, as Go's `strings.ToUpper`/`ToLower` (and so
/// Terraform) do it: a character whose mapping is several characters (`ß` → `SS`) is
/// kept as it is.
fn map_case<I: Iterator<Item = char> + ExactSizeIterator>(
    s: &str,
    map: impl Fn(char) -> I,
) -> String {
    s.chars()
        .map(|c| {
            let mut m = map(c);
            match (m.len(), m.next()) {
                (1, Some(one)) => one,
                _ => c,
            }
        })
        .collect()
}

fn lower(a: &Args, _: &FuncContext) -> Result<Value, String> {
    Ok(Value::String(map_case(&a.str(0)?, char::to_lowercase)))
}

fn upper(a: &Args, _: &FuncContext) -> Result<Value, String> {
    Ok(Value::String(map_case(&a.str(0)?, char::to_uppercase)))
}

/// Grapheme clusters reversed (a letter keeps its combining marks).
fn strrev(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let s = a.str(0)?;
    Ok(Value::String(
        unicode_segmentation::UnicodeSegmentation::graphemes(s.as_str(), true)
            .rev()
            .collect(),
    ))
}

fn title(a: &Args, _: &FuncContext) -> Result<Value, String> {
    Ok(Value::String(title_case(&a.str(0)?)))
}

fn trimspace(a: &Args, _: &FuncContext) -> Result<Value, String> {
    Ok(Value::String(a.str(0)?.trim().to_string()))
}

fn compile(pattern: &str) -> Result<regex::Regex, String> {
    regex::Regex::new(pattern).map_err(|e| format!("invalid regular expression pattern: {e}"))
}

/// One match as Terraform's `regex` returns it: the matched text without capture
/// groups, a list of the groups' texts with unnamed groups, an object of them with
/// named groups (a group that took no part is null).
fn match_value(re: &regex::Regex, caps: &regex::Captures) -> Result<Value, String> {
    let group = |m: Option<regex::Match>| m.map_or(Value::Null, |m| Value::from(m.as_str()));
    let names: Vec<Option<&str>> = re.capture_names().skip(1).collect();
    if names.is_empty() {
        return Ok(group(caps.get(0)));
    }
    if names.iter().all(Option::is_some) {
        let mut out = terrane_core::ObjectMap::new();
        for n in names.into_iter().flatten() {
            out.insert(n.to_string(), group(caps.name(n)));
        }
        return Ok(Value::Map(out));
    }
    if names.iter().any(Option::is_some) {
        return Err(
            "invalid regular expression pattern: named and unnamed capture groups cannot be mixed"
                .into(),
        );
    }
    Ok(Value::List(caps.iter().skip(1).map(group).collect()))
}

fn regex_fn(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let (pattern, s) = (a.str(0)?, a.str(1)?);
    let re = compile(&pattern)?;
    match re.captures(&s) {
        Some(caps) => match_value(&re, &caps),
        None => Err("pattern did not match any part of the given string".into()),
    }
}

fn regexall(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let (pattern, s) = (a.str(0)?, a.str(1)?);
    let re = compile(&pattern)?;
    let all: Result<Vec<Value>, String> =
        re.captures_iter(&s).map(|c| match_value(&re, &c)).collect();
    Ok(Value::List(all?))
}

fn replace(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let (s, sub, rep) = (a.str(0)?, a.str(1)?, a.str(2)?);
    if sub.len() > 1 && sub.starts_with('/') && sub.ends_with('/') {
        // `$1`, `${1}` and `$name` in the replacement, as Go's regexp expands them.
        let re = compile(&sub[1..sub.len() - 1])?;
        return Ok(Value::String(re.replace_all(&s, rep.as_str()).into_owned()));
    }
    Ok(Value::String(s.replace(&sub, &rep)))
}

fn split(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let (sep, s) = (a.str(0)?, a.str(1)?);
    let parts: Vec<Value> = if sep.is_empty() {
        s.chars().map(|c| Value::String(c.to_string())).collect()
    } else {
        s.split(sep.as_str()).map(Value::from).collect()
    };
    Ok(Value::List(parts))
}

/// Offsets and lengths count grapheme clusters, as `length` does.
fn substr(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let s = a.str(0)?;
    let chars: Vec<&str> =
        unicode_segmentation::UnicodeSegmentation::graphemes(s.as_str(), true).collect();
    let len = chars.len() as i128;
    let (mut offset, length) = (a.int(1)?, a.int(2)?);
    if offset < 0 {
        offset = (offset + len).max(0);
    }
    let take = if length < 0 { len } else { length };
    let out: String = chars
        .iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(take).unwrap_or(usize::MAX))
        .copied()
        .collect();
    Ok(Value::String(out))
}

fn trim(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let cut = a.str(1)?;
    Ok(Value::String(
        a.str(0)?.trim_matches(|c| cut.contains(c)).to_string(),
    ))
}

fn trimprefix(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let (s, part) = (a.str(0)?, a.str(1)?);
    Ok(Value::String(
        s.strip_prefix(&part).unwrap_or(&s).to_string(),
    ))
}

fn trimsuffix(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let (s, part) = (a.str(0)?, a.str(1)?);
    Ok(Value::String(
        s.strip_suffix(&part).unwrap_or(&s).to_string(),
    ))
}

/// Go's `strings.Title`: upper-cases the first letter of every word.
fn title_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut after_sep = true;
    for c in s.chars() {
        if after_sep {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        // Go: ASCII other than letters, digits and `_` separates words; beyond ASCII, spaces do.
        after_sep = if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else {
            c.is_whitespace()
        };
    }
    out
}

// ---- format ----

/// The flags, width and precision of one `format` verb.
#[derive(Default)]
struct Verb {
    minus: bool,
    plus: bool,
    space: bool,
    zero: bool,
    sharp: bool,
    width: usize,
    prec: Option<usize>,
}

/// Reads decimal digits at `i`, returning the number and the index after them.
fn digits(f: &str, chars: &[char], mut i: usize) -> Result<(usize, usize), String> {
    let mut n = 0usize;
    while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
        n = n * 10 + d as usize;
        if n > MAX_SIZE {
            return Err(format!(
                "{f}() got a width, precision or index that is too large"
            ));
        }
        i += 1;
    }
    Ok((n, i))
}

/// Terraform's `format`: Go-style verbs `%v %#v %s %q %d %b %o %x %X %e %E %f %g %G %t %%`,
/// flags `- + space 0 #`, width, precision and explicit argument indexes `%[2]d`.
fn format_values(f: &str, spec: &str, args: &[Value]) -> Result<String, String> {
    let chars: Vec<char> = spec.chars().collect();
    let mut out = String::new();
    let (mut i, mut next, mut highest) = (0usize, 0usize, 0usize);
    while let Some(&c) = chars.get(i) {
        i += 1;
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.get(i) == Some(&'%') {
            out.push('%');
            i += 1;
            continue;
        }
        let mut v = Verb::default();
        while let Some(&c) = chars.get(i) {
            match c {
                '-' => v.minus = true,
                '+' => v.plus = true,
                ' ' => v.space = true,
                '0' => v.zero = true,
                '#' => v.sharp = true,
                _ => break,
            }
            i += 1;
        }
        if chars.get(i) == Some(&'[') {
            let (n, j) = digits(f, &chars, i + 1)?;
            if n == 0 || chars.get(j) != Some(&']') {
                return Err(format!(
                    "{f}() has an invalid argument index in its format string"
                ));
            }
            next = n - 1;
            i = j + 1;
        }
        (v.width, i) = digits(f, &chars, i)?;
        if chars.get(i) == Some(&'.') {
            let (p, j) = digits(f, &chars, i + 1)?;
            v.prec = Some(p);
            i = j;
        }
        let Some(&verb) = chars.get(i) else {
            return Err(format!("{f}() format string ends with an incomplete verb"));
        };
        i += 1;
        let Some(arg) = args.get(next) else {
            return Err(format!(
                "{f}() has not enough arguments for the %{verb} verb"
            ));
        };
        next += 1;
        highest = highest.max(next);
        let (sign, body) = format_one(f, verb, arg.peel(), &v)?;
        let len = sign.chars().count() + body.chars().count();
        let pad = v.width.saturating_sub(len);
        if v.minus {
            let _ = write!(out, "{sign}{body}{}", " ".repeat(pad));
        } else if v.zero {
            let _ = write!(out, "{sign}{}{body}", "0".repeat(pad));
        } else {
            let _ = write!(out, "{}{sign}{body}", " ".repeat(pad));
        }
    }
    if highest < args.len() {
        return Err(format!(
            "{f}() has too many arguments; only {highest} used by the format string"
        ));
    }
    Ok(out)
}

/// Formats one argument: returns the sign (numbers only) and the digits or text.
fn format_one(f: &str, verb: char, arg: &Value, v: &Verb) -> Result<(String, String), String> {
    let err = |what: &str| {
        format!(
            "{f}() cannot format {} with %{verb}: {what}",
            arg.to_display()
        )
    };
    if arg.is_null() && verb != 'v' {
        return Err(err("null value cannot be formatted"));
    }
    let text = |s: String| (String::new(), s);
    match verb {
        'v' => match arg {
            Value::String(s) if !v.sharp => Ok(text(s.clone())),
            Value::Number(n) if !v.sharp => Ok(text(n.format_general(None))),
            other => Ok(text(json_encode(other))),
        },
        's' | 'q' => {
            let s = prim_str(arg).ok_or_else(|| err("a string is required"))?;
            let s: String = match v.prec {
                Some(p) if p > 0 => s.chars().take(p).collect(),
                _ => s,
            };
            Ok(text(if verb == 'q' {
                json_encode(&Value::String(s))
            } else {
                s
            }))
        }
        't' => match Type::Bool.convert(arg.clone()) {
            Ok(Value::Bool(b)) => Ok(text(b.to_string())),
            _ => Err(err("a bool is required")),
        },
        'd' | 'b' | 'o' | 'x' | 'X' | 'e' | 'E' | 'f' | 'F' | 'g' | 'G' => {
            let n = to_num(arg).ok_or_else(|| err("a number is required"))?;
            let sign = match (n.signum() < 0, v.plus, v.space) {
                (true, _, _) => "-",
                (_, true, _) => "+",
                (_, _, true) => " ",
                _ => "",
            };
            let body = if matches!(verb, 'd' | 'b' | 'o' | 'x' | 'X') {
                if verb == 'd' && n.is_integer() {
                    n.abs().to_string()
                } else {
                    let k = whole(&n)
                        .ok_or_else(|| err("an integer is required"))?
                        .unsigned_abs();
                    match verb {
                        'b' => format!("{k:b}"),
                        'o' => format!("{k:o}"),
                        'x' => format!("{k:x}"),
                        'X' => format!("{k:X}"),
                        _ => k.to_string(),
                    }
                }
            } else {
                let x = n.abs();
                let s = match verb.to_ascii_lowercase() {
                    'f' => x.format_fixed(v.prec.unwrap_or(6)),
                    'e' => x.format_exponent(v.prec.unwrap_or(6)),
                    _ => x.format_general(v.prec),
                };
                if verb.is_ascii_uppercase() {
                    s.to_uppercase()
                } else {
                    s
                }
            };
            Ok((sign.to_string(), body))
        }
        _ => Err(format!("{f}() does not support the format verb %{verb}")),
    }
}
