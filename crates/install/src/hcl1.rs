//! A small parser for HCL 1, the language of Terraform's CLI configuration file
//! (`.terraformrc`), and for its JSON form.
//!
//! The CLI configuration is not HCL 2: its `dev_overrides` block has quoted keys
//! (`"hashicorp/aws" = "/path"`), which HCL 2 does not allow, and a block may be written
//! as `name = { ... }`, which Terraform must be able to tell apart and reject. So it gets
//! its own parser, kept to what HCL 1 documents: `#`, `//` and `/* */` comments; items
//! `KEY... = VALUE` or `KEY... { ... }` where keys are identifiers or strings;
//! strings with escapes and `${...}` left as written; heredocs; numbers; booleans;
//! lists; objects.

use std::fmt;

/// One item of an object: `a "b" { ... }` has keys `["a", "b"]` and no `=`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Item {
    pub keys: Vec<String>,
    /// Whether it was written with `=` (always true in JSON, which cannot tell).
    pub assign: bool,
    pub value: Value,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    String(String),
    Number(String),
    Bool(bool),
    List(Vec<Value>),
    Object(Vec<Item>),
}

impl Value {
    pub fn kind(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::Number(_) => "number",
            Value::Bool(_) => "bool",
            Value::List(_) => "list",
            Value::Object(_) => "object",
        }
    }
}

/// A syntax error with its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Parses a whole file: HCL 1, or JSON when the first non-space character is `{` (as
/// HCL 1's own parser decides). The result says whether it was JSON.
pub(crate) fn parse(src: &str) -> Result<(Vec<Item>, bool), SyntaxError> {
    if src.trim_start().starts_with('{') {
        let json: serde_json::Value = serde_json::from_str(src).map_err(|error| SyntaxError {
            line: error.line(),
            message: error.to_string(),
        })?;
        let serde_json::Value::Object(map) = json else {
            unreachable!("the text starts with {{");
        };
        return Ok((json_items(&map), true));
    }
    let mut parser = Parser {
        src: src.as_bytes(),
        text: src,
        pos: 0,
        line: 1,
    };
    let items = parser.object_items(false)?;
    Ok((items, false))
}

fn json_items(map: &serde_json::Map<String, serde_json::Value>) -> Vec<Item> {
    let mut items = Vec::new();
    for (key, value) in map {
        match value {
            serde_json::Value::Array(elements)
                if !elements.is_empty() && elements.iter().all(|e| e.is_object()) =>
            {
                for element in elements {
                    items.push(Item {
                        keys: vec![key.clone()],
                        assign: true,
                        value: json_value(element),
                        line: 0,
                    });
                }
            }
            other => items.push(Item {
                keys: vec![key.clone()],
                assign: true,
                value: json_value(other),
                line: 0,
            }),
        }
    }
    items
}

fn json_value(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::String(String::new()),
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => Value::Number(n.to_string()),
        serde_json::Value::String(s) => Value::String(s.clone()),
        serde_json::Value::Array(elements) => {
            Value::List(elements.iter().map(json_value).collect())
        }
        serde_json::Value::Object(map) => Value::Object(json_items(map)),
    }
}

struct Parser<'a> {
    src: &'a [u8],
    text: &'a str,
    pos: usize,
    line: usize,
}

impl Parser<'_> {
    fn error<T>(&self, message: impl Into<String>) -> Result<T, SyntaxError> {
        Err(SyntaxError {
            line: self.line,
            message: message.into(),
        })
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.pos += 1;
        if c == b'\n' {
            self.line += 1;
        }
        Some(c)
    }

    /// Skips spaces, newlines and comments.
    fn skip_trivia(&mut self) -> Result<(), SyntaxError> {
        loop {
            match self.peek() {
                Some(c) if c.is_ascii_whitespace() => {
                    self.bump();
                }
                Some(b'#') => self.skip_line(),
                Some(b'/') if self.src.get(self.pos + 1) == Some(&b'/') => self.skip_line(),
                Some(b'/') if self.src.get(self.pos + 1) == Some(&b'*') => {
                    let start = self.line;
                    self.pos += 2;
                    loop {
                        match self.bump() {
                            Some(b'*') if self.peek() == Some(b'/') => {
                                self.pos += 1;
                                break;
                            }
                            Some(_) => {}
                            None => {
                                return Err(SyntaxError {
                                    line: start,
                                    message: "comment not terminated".to_string(),
                                })
                            }
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn skip_line(&mut self) {
        while let Some(c) = self.peek() {
            if c == b'\n' {
                break;
            }
            self.pos += 1;
        }
    }

    /// Items until the end of input (`nested` false) or a closing `}` (`nested` true,
    /// which is consumed).
    fn object_items(&mut self, nested: bool) -> Result<Vec<Item>, SyntaxError> {
        let mut items = Vec::new();
        loop {
            self.skip_trivia()?;
            match self.peek() {
                None if nested => return self.error("expected \"}\" to close the object"),
                None => return Ok(items),
                Some(b'}') if nested => {
                    self.bump();
                    return Ok(items);
                }
                Some(b',') if !items.is_empty() => {
                    self.bump();
                    continue;
                }
                _ => items.push(self.item()?),
            }
        }
    }

    fn item(&mut self) -> Result<Item, SyntaxError> {
        let line = self.line;
        let mut keys = Vec::new();
        loop {
            self.skip_trivia()?;
            match self.peek() {
                Some(b'"') => keys.push(self.string()?),
                Some(c) if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                    keys.push(self.identifier())
                }
                Some(b'=') if !keys.is_empty() => {
                    self.bump();
                    self.skip_trivia()?;
                    let value = self.value()?;
                    return Ok(Item {
                        keys,
                        assign: true,
                        value,
                        line,
                    });
                }
                Some(b'{') if !keys.is_empty() => {
                    self.bump();
                    let value = Value::Object(self.object_items(true)?);
                    return Ok(Item {
                        keys,
                        assign: false,
                        value,
                        line,
                    });
                }
                Some(c) => {
                    return self.error(format!(
                        "unexpected {:?}; expected a key, \"=\" or \"{{\"",
                        c as char
                    ))
                }
                None => {
                    return self
                        .error("unexpected end of file after a key; expected \"=\" or \"{\"")
                }
            }
        }
    }

    fn identifier(&mut self) -> String {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.') || c >= 0x80 {
                self.pos += 1;
            } else {
                break;
            }
        }
        self.text[start..self.pos].to_string()
    }

    fn value(&mut self) -> Result<Value, SyntaxError> {
        match self.peek() {
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b'<') if self.src.get(self.pos + 1) == Some(&b'<') => {
                Ok(Value::String(self.heredoc()?))
            }
            Some(b'[') => {
                self.bump();
                let mut elements = Vec::new();
                loop {
                    self.skip_trivia()?;
                    match self.peek() {
                        Some(b']') => {
                            self.bump();
                            return Ok(Value::List(elements));
                        }
                        Some(b',') if !elements.is_empty() => {
                            self.bump();
                        }
                        None => return self.error("expected \"]\" to close the list"),
                        _ => elements.push(self.value()?),
                    }
                }
            }
            Some(b'{') => {
                self.bump();
                Ok(Value::Object(self.object_items(true)?))
            }
            Some(c) if c.is_ascii_digit() || c == b'-' || c == b'+' => {
                let start = self.pos;
                self.pos += 1;
                while let Some(c) = self.peek() {
                    if c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'+') {
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                Ok(Value::Number(self.text[start..self.pos].to_string()))
            }
            Some(c) if c.is_ascii_alphabetic() => match self.identifier().as_str() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                other => self.error(format!(
                    "unexpected {other:?}; a value must be a string, number, bool, list or object"
                )),
            },
            Some(c) => self.error(format!("unexpected {:?}; expected a value", c as char)),
            None => self.error("unexpected end of file; expected a value"),
        }
    }

    /// A quoted string; escapes are decoded, `${...}` is kept as written.
    fn string(&mut self) -> Result<String, SyntaxError> {
        let start_line = self.line;
        self.bump();
        let mut out = String::new();
        let mut braces = 0usize;
        loop {
            let Some(c) = self.peek() else {
                return Err(SyntaxError {
                    line: start_line,
                    message: "literal not terminated".to_string(),
                });
            };
            match c {
                b'"' if braces == 0 => {
                    self.bump();
                    return Ok(out);
                }
                b'\n' if braces == 0 => {
                    return Err(SyntaxError {
                        line: start_line,
                        message: "literal not terminated".to_string(),
                    })
                }
                b'\\' if braces == 0 => {
                    self.bump();
                    let escaped = self.bump();
                    match escaped {
                        Some(b'n') => out.push('\n'),
                        Some(b't') => out.push('\t'),
                        Some(b'r') => out.push('\r'),
                        Some(b'"') => out.push('"'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'u') | Some(b'U') => {
                            let len = if escaped == Some(b'u') { 4 } else { 8 };
                            let digits = self.text.get(self.pos..self.pos + len).unwrap_or("");
                            let decoded = u32::from_str_radix(digits, 16)
                                .ok()
                                .and_then(char::from_u32);
                            let Some(decoded) = decoded else {
                                return self.error("invalid unicode escape in a string");
                            };
                            out.push(decoded);
                            self.pos += len;
                        }
                        _ => return self.error("unknown escape sequence in a string"),
                    }
                }
                b'$' if self.src.get(self.pos + 1) == Some(&b'{') => {
                    braces += 1;
                    out.push_str("${");
                    self.pos += 2;
                }
                b'{' if braces > 0 => {
                    braces += 1;
                    out.push('{');
                    self.bump();
                }
                b'}' if braces > 0 => {
                    braces -= 1;
                    out.push('}');
                    self.bump();
                }
                _ => {
                    let ch_len = self.text[self.pos..]
                        .chars()
                        .next()
                        .map_or(1, char::len_utf8);
                    out.push_str(&self.text[self.pos..self.pos + ch_len]);
                    for _ in 0..ch_len {
                        self.bump();
                    }
                }
            }
        }
    }

    /// `<<EOF` ... `EOF` or `<<-EOF` (indented), without the final newline.
    fn heredoc(&mut self) -> Result<String, SyntaxError> {
        let start_line = self.line;
        self.pos += 2;
        let indented = self.peek() == Some(b'-');
        if indented {
            self.pos += 1;
        }
        let marker_start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
        {
            self.pos += 1;
        }
        let marker = self.text[marker_start..self.pos].to_string();
        if marker.is_empty() || self.bump() != Some(b'\n') {
            return self.error("a heredoc marker must be followed by a newline");
        }
        let mut lines = Vec::new();
        loop {
            let start = self.pos;
            while self.peek().is_some_and(|c| c != b'\n') {
                self.pos += 1;
            }
            let line = &self.text[start..self.pos];
            let ended = self.bump().is_none();
            if line.trim() == marker && (indented || line == marker) {
                break;
            }
            lines.push(line.to_string());
            if ended {
                return Err(SyntaxError {
                    line: start_line,
                    message: format!("heredoc not terminated: expected a line with {marker}"),
                });
            }
        }
        if indented {
            let indent = lines
                .iter()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.len() - l.trim_start().len())
                .min()
                .unwrap_or(0);
            for line in &mut lines {
                *line = line.get(indent..).unwrap_or("").to_string();
            }
        }
        Ok(lines.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_cli_configuration_shapes() {
        let src = r#"
# comment
plugin_cache_dir = "$HOME/.terraform.d/plugin-cache" // trailing
disable_checkpoint = true
/* block
comment */
provider_installation {
  dev_overrides {
    "hashicorp/aws" = "/home/dev/aws"
  }
  filesystem_mirror {
    path    = "/usr/share/terraform/providers"
    include = ["example.com/*/*", "hashicorp/*",]
  }
  direct {
    exclude = ["example.com/*/*"]
  }
}
credentials "app.terraform.io" {
  token = "${ENV}x\"y"
}
"#;
        let (items, json) = parse(src).unwrap();
        assert!(!json);
        let keys: Vec<Vec<String>> = items.iter().map(|i| i.keys.clone()).collect();
        assert_eq!(
            keys,
            [
                vec!["plugin_cache_dir".to_string()],
                vec!["disable_checkpoint".to_string()],
                vec!["provider_installation".to_string()],
                vec!["credentials".to_string(), "app.terraform.io".to_string()],
            ]
        );
        assert_eq!(
            items[0].value,
            Value::String("$HOME/.terraform.d/plugin-cache".to_string())
        );
        assert_eq!(items[2].line, 7);
        let Value::Object(methods) = &items[2].value else {
            panic!()
        };
        assert_eq!(methods[0].keys, ["dev_overrides"]);
        let Value::Object(overrides) = &methods[0].value else {
            panic!()
        };
        assert_eq!(overrides[0].keys, ["hashicorp/aws"]);
        let Value::Object(mirror) = &methods[1].value else {
            panic!()
        };
        assert_eq!(
            mirror[1].value,
            Value::List(vec![
                Value::String("example.com/*/*".into()),
                Value::String("hashicorp/*".into())
            ])
        );
        let Value::Object(credentials) = &items[3].value else {
            panic!()
        };
        assert_eq!(
            credentials[0].value,
            Value::String("${ENV}x\"y".to_string())
        );
    }

    #[test]
    fn heredocs_and_json() {
        let (items, _) =
            parse("a = <<EOF\nx\n  y\nEOF\nb = <<-EOT\n    p\n      q\n    EOT\n").unwrap();
        assert_eq!(items[0].value, Value::String("x\n  y".to_string()));
        assert_eq!(items[1].value, Value::String("p\n  q".to_string()));
        let (items, json) = parse(r#"{"plugin_cache_dir": "/c", "provider_installation": {"filesystem_mirror": [{"path": "/m"}, {"path": "/n"}]}}"#).unwrap();
        assert!(json);
        let Value::Object(methods) = &items[1].value else {
            panic!()
        };
        assert_eq!(methods.len(), 2);
    }

    #[test]
    fn syntax_errors_have_lines() {
        for (src, line) in [
            ("a = \"x\n", 1),
            ("a {\n b = 1\n", 3),
            ("\n\na = nope", 3),
            ("a = [1, 2", 1),
            ("= 1", 1),
        ] {
            let error = parse(src).unwrap_err();
            assert_eq!(error.line, line, "{src:?}: {error}");
        }
    }
}
