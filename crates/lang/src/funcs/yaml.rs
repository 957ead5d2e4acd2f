//! `yamlencode`: YAML as Terraform writes it (go-yaml's emitter, as cty drives it):
//! block style; object keys in order, double-quoted; strings double-quoted and folded
//! at a space past column 80, or in literal style (`|`, `|-`, `|+`) when they hold a
//! line break; sequences in a mapping not indented; `{}` and `[]` for empty
//! collections. Checked against Terraform 1.15 by the differential suite.

use terrane_core::value::format_number;
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
            Value::Number(n) => self.write(&format_number(*n)),
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
                Value::List(vec![s("a"), Value::map([("b", Value::Number(1.0))])]),
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
            Value::List(vec![Value::Number(1.0), Value::Number(2.0)]),
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
