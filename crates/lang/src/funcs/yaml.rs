//! `yamldecode`: YAML read as Terraform reads it — plain scalars resolved with YAML
//! 1.1's rules, as go-yaml v2 under cty does (`yes`, `on` and `y` are true, `0x1F` is
//! 31, `~` is null, a date is an RFC 3339 timestamp string); mappings become objects,
//! sequences tuples, mapping keys strings; anchors, aliases and `<<` merge keys work.
//! The events come from saphyr-parser, which keeps each scalar's style (quoted scalars
//! are always strings).
//!
//! `yamlencode`: YAML as Terraform writes it (go-yaml's emitter, as cty drives it):
//! block style; object keys in order, double-quoted; strings double-quoted and folded
//! at a space past column 80, or in literal style (`|`, `|-`, `|+`) when they hold a
//! line break; sequences in a mapping not indented; `{}` and `[]` for empty
//! collections. Checked against Terraform 1.15 by the differential suite.

use terrane_core::Value;

/// The width past which a double-quoted string is folded at its next space.
const BEST_WIDTH: usize = 80;

pub(super) fn encode(v: &Value) -> Result<String, String> {
    let mut e = Emitter {
        out: String::new(),
        column: 0,
    };
    match v {
        Value::Map(m) if !m.is_empty() => e.map(v, 0, false)?,
        Value::List(items) | Value::Set(items) if !items.is_empty() => e.seq(items, 0, false)?,
        scalar => {
            e.scalar(scalar, 2)?;
            e.newline();
        }
    }
    Ok(e.out)
}

struct Emitter {
    out: String,
    column: usize,
}

impl Emitter {
    fn write(&mut self, s: &str) {
        self.out.push_str(s);
        match s.rfind('\n') {
            Some(i) => self.column = s[i + 1..].chars().count(),
            None => self.column += s.chars().count(),
        }
    }

    fn newline(&mut self) {
        self.write("\n");
    }

    fn indent(&mut self, n: usize) {
        self.write(&" ".repeat(n));
    }

    /// A mapping at `indent`; `inline` when its first key goes where the cursor is
    /// (after a sequence's `- `).
    fn map(&mut self, v: &Value, indent: usize, inline: bool) -> Result<(), String> {
        let Value::Map(m) = v else {
            return Err("yamlencode: expected an object".into());
        };
        for (i, (k, v)) in m.iter().enumerate() {
            if i > 0 || !inline {
                self.indent(indent);
            }
            self.quoted(k, indent + 2);
            self.write(":");
            match v.peel() {
                Value::Map(inner) if !inner.is_empty() => {
                    self.newline();
                    self.map(v.peel(), indent + 2, false)?;
                }
                Value::List(items) | Value::Set(items) if !items.is_empty() => {
                    self.newline();
                    self.seq(items, indent, false)?;
                }
                scalar => {
                    self.write(" ");
                    self.scalar(scalar, indent + 2)?;
                    self.newline();
                }
            }
        }
        Ok(())
    }

    fn seq(&mut self, items: &[Value], indent: usize, inline: bool) -> Result<(), String> {
        for (i, item) in items.iter().enumerate() {
            if i > 0 || !inline {
                self.indent(indent);
            }
            self.write("- ");
            match item.peel() {
                Value::Map(inner) if !inner.is_empty() => {
                    self.map(item.peel(), indent + 2, true)?
                }
                Value::List(inner) | Value::Set(inner) if !inner.is_empty() => {
                    self.seq(inner, indent + 2, true)?
                }
                scalar => {
                    self.scalar(scalar, indent + 2)?;
                    self.newline();
                }
            }
        }
        Ok(())
    }

    /// A scalar; `indent` is where folded or literal lines continue.
    fn scalar(&mut self, v: &Value, indent: usize) -> Result<(), String> {
        match v.peel() {
            Value::Null => self.write("null"),
            Value::Bool(b) => self.write(if *b { "true" } else { "false" }),
            Value::Number(n) => self.write(&n.to_string()),
            Value::String(s) if s.contains('\n') => self.literal(s, indent),
            Value::String(s) => self.quoted(s, indent),
            Value::Map(_) => self.write("{}"),
            Value::List(_) | Value::Set(_) => self.write("[]"),
            Value::Unknown => return Err("yamlencode: the value is not known yet".into()),
            Value::Sensitive(inner) => return self.scalar(inner, indent),
        }
        Ok(())
    }

    /// A literal block scalar: `|` keeps one final line break, `|-` none, `|+` all.
    fn literal(&mut self, s: &str, indent: usize) {
        let body = s.trim_end_matches('\n');
        let trailing = s.len() - body.len();
        self.write(match trailing {
            0 => "|-",
            1 => "|",
            _ => "|+",
        });
        for line in body.split('\n') {
            self.newline();
            if !line.is_empty() {
                self.indent(indent);
                self.write(line);
            }
        }
        for _ in 1..trailing {
            self.newline();
        }
    }

    /// A double-quoted scalar, folded at a space once past [`BEST_WIDTH`] (the break
    /// continues at `indent`; a space after the break point is escaped).
    fn quoted(&mut self, s: &str, indent: usize) {
        self.write("\"");
        let chars: Vec<char> = s.chars().collect();
        let mut spaces = false;
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let last = i + 1 == chars.len();
                if !spaces && self.column > BEST_WIDTH && i != 0 && !last {
                    self.newline();
                    self.indent(indent);
                    if chars.get(i + 1) == Some(&' ') {
                        self.write("\\");
                    }
                } else {
                    self.write(" ");
                }
                spaces = true;
                continue;
            }
            spaces = false;
            let escaped = match c {
                '"' => "\\\"".to_string(),
                '\\' => "\\\\".to_string(),
                '\0' => "\\0".to_string(),
                '\u{7}' => "\\a".to_string(),
                '\u{8}' => "\\b".to_string(),
                '\t' => "\\t".to_string(),
                '\u{b}' => "\\v".to_string(),
                '\u{c}' => "\\f".to_string(),
                '\r' => "\\r".to_string(),
                '\u{1b}' => "\\e".to_string(),
                '\u{85}' => "\\N".to_string(),
                '\u{a0}' => "\\_".to_string(),
                '\u{2028}' => "\\L".to_string(),
                '\u{2029}' => "\\P".to_string(),
                c if (c as u32) < 0x20 || c == '\u{7f}' => format!("\\x{:02X}", c as u32),
                c => c.to_string(),
            };
            self.write(&escaped);
        }
        self.write("\"");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value {
        Value::from(x)
    }

    #[test]
    fn block_style_as_terraform_writes_it() {
        let v = Value::map([
            (
                "l",
                Value::List(vec![s("a"), Value::map([("b", Value::from(1))])]),
            ),
            ("m", Value::map([("x", Value::map([("y", s("deep"))]))])),
            ("s", s("ends\n")),
            ("e", Value::List(vec![])),
        ]);
        assert_eq!(
            encode(&v).unwrap(),
            "\"e\": []\n\"l\":\n- \"a\"\n- \"b\": 1\n\"m\":\n  \"x\":\n    \"y\": \"deep\"\n\"s\": |\n  ends\n"
        );
        let nested = Value::List(vec![
            Value::List(vec![Value::from(1), Value::from(2)]),
            Value::Map(Default::default()),
        ]);
        assert_eq!(encode(&nested).unwrap(), "- - 1\n  - 2\n- {}\n");
        assert_eq!(encode(&s("str")).unwrap(), "\"str\"\n");
        assert_eq!(encode(&s("a\tb \"q\"")).unwrap(), "\"a\\tb \\\"q\\\"\"\n");
    }

    #[test]
    fn long_strings_fold_past_column_80() {
        let long = "aaaaaaaaaa bbbbbbbbbb cccccccccc dddddddddd eeeeeeeeee ffffffffff gggggggggg hhhhhhhhhh";
        assert_eq!(
            encode(&Value::map([("long", s(long))])).unwrap(),
            "\"long\": \"aaaaaaaaaa bbbbbbbbbb cccccccccc dddddddddd eeeeeeeeee ffffffffff gggggggggg\n  hhhhhhhhhh\"\n"
        );
    }
}

/// Decodes one YAML document (`yamldecode`).
pub(super) fn decode(text: &str) -> Result<Value, String> {
    let mut d = Decoder {
        events: saphyr_parser::Parser::new_from_str(text),
        anchors: Default::default(),
    };
    let mut value = None;
    loop {
        match d.next()? {
            (Ev::StreamStart | Ev::DocumentEnd, _) => {}
            (Ev::DocumentStart(_), _) if value.is_some() => {
                return Err(
                    "the text holds more than one YAML document; yamldecode reads one".into(),
                )
            }
            (Ev::DocumentStart(_), _) => {
                let (first, at) = d.next()?;
                value = Some(match first {
                    Ev::DocumentEnd => Value::Null,
                    ev => d.node(ev, at)?,
                });
            }
            (Ev::StreamEnd, at) => {
                return value.ok_or_else(|| {
                    format!(
                        "on line {}, column {}: missing start of document",
                        at.0, at.1
                    )
                })
            }
            (ev, at) => {
                return Err(format!(
                    "on line {}, column {}: unexpected {ev:?}",
                    at.0, at.1
                ))
            }
        }
    }
}

type Ev<'a> = saphyr_parser::Event<'a>;

struct Decoder<'a> {
    events: saphyr_parser::Parser<'a, saphyr_parser::StrInput<'a>>,
    /// Values by anchor id, for aliases.
    anchors: std::collections::HashMap<usize, Value>,
}

impl<'a> Decoder<'a> {
    /// The next event and its (line, column), both 1-based.
    fn next(&mut self) -> Result<(Ev<'a>, (usize, usize)), String> {
        match self.events.next() {
            Some(Ok((ev, span))) => Ok((ev, (span.start.line(), span.start.col() + 1))),
            Some(Err(e)) => Err(format!(
                "on line {}, column {}: {}",
                e.marker().line(),
                e.marker().col() + 1,
                e.info()
            )),
            None => Err("the YAML text ended early".into()),
        }
    }

    fn anchor(&mut self, id: usize, v: Value) -> Value {
        if id != 0 {
            self.anchors.insert(id, v.clone());
        }
        v
    }

    /// The value of the node that starts with `ev`.
    fn node(&mut self, ev: Ev<'a>, at: (usize, usize)) -> Result<Value, String> {
        match ev {
            Ev::Scalar(text, style, id, tag) => {
                let v = scalar(&text, style, tag.as_deref())
                    .map_err(|e| format!("on line {}, column {}: {e}", at.0, at.1))?;
                Ok(self.anchor(id, v))
            }
            Ev::Alias(id) => self
                .anchors
                .get(&id)
                .cloned()
                .ok_or_else(|| format!("on line {}, column {}: unknown anchor", at.0, at.1)),
            Ev::SequenceStart(id, _) => {
                let mut items = Vec::new();
                loop {
                    match self.next()? {
                        (Ev::SequenceEnd, _) => break,
                        (ev, at) => items.push(self.node(ev, at)?),
                    }
                }
                Ok(self.anchor(id, Value::List(items)))
            }
            Ev::MappingStart(id, _) => {
                let mut map = terrane_core::ObjectMap::default();
                // Keys from `<<` merges, which keys written in the mapping override.
                let mut merged = terrane_core::ObjectMap::default();
                loop {
                    let (ev, at) = self.next()?;
                    if matches!(ev, Ev::MappingEnd) {
                        break;
                    }
                    let is_merge = matches!(&ev, Ev::Scalar(t, saphyr_parser::ScalarStyle::Plain, _, None) if t == "<<");
                    let key = self.node(ev, at)?;
                    let (vev, vat) = self.next()?;
                    let value = self.node(vev, vat)?;
                    if is_merge {
                        let sources = match value {
                            Value::List(items) => items,
                            one => vec![one],
                        };
                        for source in sources {
                            let Value::Map(m) = source else {
                                return Err(format!("on line {}, column {}: a << merge takes a mapping or a sequence of mappings", at.0, at.1));
                            };
                            for (k, v) in m {
                                merged.entry(k).or_insert_with(|| v);
                            }
                        }
                        continue;
                    }
                    let key = match key {
                        Value::String(s) => s,
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        other => {
                            return Err(format!(
                                "on line {}, column {}: a mapping key must be a string, not {}",
                                at.0,
                                at.1,
                                other.type_name()
                            ))
                        }
                    };
                    if map.contains_key(&key) {
                        return Err(format!(
                            "on line {}, column {}: mapping key {key:?} already defined",
                            at.0, at.1
                        ));
                    }
                    map.insert(key, value);
                }
                for (k, v) in merged {
                    map.entry(k).or_insert_with(|| v);
                }
                Ok(self.anchor(id, Value::Map(map)))
            }
            other => Err(format!(
                "on line {}, column {}: unexpected {other:?}",
                at.0, at.1
            )),
        }
    }
}

/// A scalar's value: quoted scalars are strings, plain ones resolved by YAML 1.1's
/// rules; a core-schema tag (`!!str`, `!!int`, ...) decides instead.
fn scalar(
    text: &str,
    style: saphyr_parser::ScalarStyle,
    tag: Option<&saphyr_parser::Tag>,
) -> Result<Value, String> {
    // Terraform keeps a quoted scalar a string whatever its tag says.
    if style != saphyr_parser::ScalarStyle::Plain {
        return Ok(Value::String(text.to_string()));
    }
    let number =
        |s: &str| resolve_number(s).ok_or_else(|| format!("cannot decode {s:?} as a number"));
    match tag {
        Some(t) if t.is_yaml_core_schema() => match t.suffix.as_str() {
            "str" | "binary" => Ok(Value::String(text.to_string())),
            "int" | "float" => number(text),
            "bool" => match resolve_plain(text) {
                Some(b @ Value::Bool(_)) => Ok(b),
                _ => Err(format!("cannot decode {text:?} as a bool")),
            },
            "null" => Ok(Value::Null),
            "timestamp" => timestamp(text)
                .map(Value::String)
                .ok_or_else(|| format!("cannot decode {text:?} as a timestamp")),
            other => Err(format!("unsupported tag !!{other}")),
        },
        Some(t) if t.handle == "!" && t.suffix.is_empty() => Ok(Value::String(text.to_string())),
        Some(t) => Err(format!("unsupported tag {t}")),
        None => match resolve_plain(text) {
            Some(Value::Number(n)) if n.is_infinite() => {
                Err(format!("cannot represent {text:?}: numbers must be finite"))
            }
            Some(v) => Ok(v),
            None => Ok(Value::String(
                timestamp(text).unwrap_or_else(|| text.to_string()),
            )),
        },
    }
}

/// The null, bool or number a plain scalar stands for in YAML 1.1, if any.
fn resolve_plain(s: &str) -> Option<Value> {
    Some(match s {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Value::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Value::Bool(false)
        }
        // Not representable; the caller reports these (NaN as an infinity).
        ".nan" | ".NaN" | ".NAN" | ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            Value::from(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => Value::from(f64::NEG_INFINITY),
        _ => return resolve_number(s),
    })
}

/// An integer (decimal, `0x`, `0o`, `0b`, or a leading `0` for octal) or a decimal
/// float, as Terraform reads a plain scalar (`1_000` stays a string).
fn resolve_number(s: &str) -> Option<Value> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let radix = |digits: &str, r: u32| u64::from_str_radix(digits, r).ok().map(|n| n as f64);
    let magnitude = if let Some(h) = body.strip_prefix("0x") {
        radix(h, 16)
    } else if let Some(o) = body.strip_prefix("0o") {
        radix(o, 8)
    } else if let Some(b) = body.strip_prefix("0b") {
        radix(b, 2)
    } else if body.len() > 1 && body.starts_with('0') && body.bytes().all(|b| b.is_ascii_digit()) {
        radix(&body[1..], 8)
    } else {
        // A decimal: digits with an optional fraction and exponent.
        let (mantissa, exp) = match body.find(['e', 'E']) {
            Some(i) => (&body[..i], Some(&body[i + 1..])),
            None => (body, None),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        let exp_ok = exp.is_none_or(|e| {
            let e = e.strip_prefix(['+', '-']).unwrap_or(e);
            !e.is_empty() && digits(e)
        });
        if (int.is_empty() && frac.is_empty())
            || !digits(int)
            || !digits(frac)
            || !exp_ok
            || (int.is_empty() && !mantissa.starts_with('.'))
        {
            return None;
        }
        body.parse::<f64>().ok()
    }?;
    Some(Value::from(if neg { -magnitude } else { magnitude }))
}

/// A YAML 1.1 timestamp (`2001-12-14`, `2001-12-14T21:59:43.10-05:00`, or with a space
/// and no zone) as the RFC 3339 text Terraform gives for it.
fn timestamp(s: &str) -> Option<String> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    if !s.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(format!("{}T00:00:00Z", d.format("%Y-%m-%d")));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|t| {
            t.and_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        })
}

#[cfg(test)]
mod decode_tests {
    use super::decode;

    fn json(text: &str) -> String {
        decode(text)
            .map(|v| v.to_json().to_string())
            .unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn scalars_resolve_as_yaml_1_1() {
        assert_eq!(
            json("a: 1\nb: [x, y]\nc: yes\nd: ~\ne: 1.5\nf: 0x1F\ng: 2001-12-14\nh: 'on'\n1: k\nj: 0o17\nk: 010\nl: 1_000\nm: .5\n"),
            r#"{"1":"k","a":1,"b":["x",true],"c":true,"d":null,"e":1.5,"f":31,"g":"2001-12-14T00:00:00Z","h":"on","j":15,"k":8,"l":"1_000","m":0.5}"#
        );
        assert_eq!(json("\"1\""), r#""1""#);
        assert_eq!(json("!!str 12"), r#""12""#);
        assert_eq!(json("---"), "null");
        assert_eq!(json("1.2.3"), r#""1.2.3""#);
        assert_eq!(
            json("- .inf"),
            "error: on line 1, column 3: cannot represent \".inf\": numbers must be finite"
        );
    }

    #[test]
    fn anchors_aliases_and_merges() {
        assert_eq!(
            json("base: &b {x: 1, z: 3}\nder:\n  <<: *b\n  y: 2\n  z: 4\nlist: [*b]\n"),
            // `y` is YAML 1.1's true, so the key is "true", as in Terraform.
            r#"{"base":{"x":1,"z":3},"der":{"true":2,"x":1,"z":4},"list":[{"x":1,"z":3}]}"#
        );
    }

    #[test]
    fn mistakes_are_errors() {
        assert!(json("").starts_with("error: on line 1, column 1: missing start of document"));
        assert!(json("a: 1\na: 2\n").contains("already defined"));
        assert!(json("a: 1\n---\nb: 2\n").contains("more than one YAML document"));
        assert!(json("a: [1, 2\n").starts_with("error: on line"));
        assert!(json("!custom x").contains("unsupported tag"));
    }
}
