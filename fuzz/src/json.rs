//! The JSON tree the structure-aware target generates, and its serialisation: every
//! string escape JSON allows, and whitespace anywhere between tokens.

/// A JSON value as the generator builds it: numbers as text, strings with the escaping
/// they will be written with.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number as its JSON text, always valid number syntax.
    Num(String),
    /// A string.
    Str(JStr),
    /// An array.
    Arr(Vec<Json>),
    /// An object, in this order. Keys are unique when the generator built it.
    Obj(Vec<(JStr, Json)>),
}

/// A string and how it is written.
#[derive(Clone, Debug, PartialEq)]
pub struct JStr {
    /// The string.
    pub text: String,
    /// How it is escaped in the JSON text.
    pub escape: Escape,
}

/// How a string is escaped in the JSON text; every form reads back the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escape {
    /// Only what JSON requires.
    Minimal,
    /// Non-ASCII as `\uXXXX` (surrogate pairs above the BMP).
    NonAscii,
    /// Every character as `\uXXXX`.
    All,
    /// `/` as `\/` and the short escapes.
    Solidus,
}

/// A string written with the minimal escapes.
pub fn s(text: impl Into<String>) -> JStr {
    JStr {
        text: text.into(),
        escape: Escape::Minimal,
    }
}

struct Writer<'a> {
    out: String,
    ws: &'a [u8],
    n: usize,
}

impl Writer<'_> {
    fn ws(&mut self) {
        if self.ws.is_empty() {
            return;
        }
        let w = self.ws[self.n % self.ws.len()];
        self.n += 1;
        self.out.push_str(match w % 8 {
            0..=2 => "",
            3 => " ",
            4 => "\n",
            5 => "\t",
            6 => "\r\n",
            _ => "  ",
        });
    }

    fn value(&mut self, j: &Json) {
        self.ws();
        match j {
            Json::Null => self.out.push_str("null"),
            Json::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Json::Num(n) => self.out.push_str(n),
            Json::Str(s) => self.string(s),
            Json::Arr(items) => {
                self.out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    self.value(item);
                }
                self.ws();
                self.out.push(']');
            }
            Json::Obj(entries) => {
                self.out.push('{');
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    self.ws();
                    self.string(k);
                    self.ws();
                    self.out.push(':');
                    self.value(v);
                }
                self.ws();
                self.out.push('}');
            }
        }
        self.ws();
    }

    fn string(&mut self, s: &JStr) {
        use std::fmt::Write;
        self.out.push('"');
        for c in s.text.chars() {
            let all = s.escape == Escape::All;
            match c {
                '"' if !all => self.out.push_str("\\\""),
                '\\' if !all => self.out.push_str("\\\\"),
                '/' if s.escape == Escape::Solidus => self.out.push_str("\\/"),
                '\n' if s.escape == Escape::Solidus => self.out.push_str("\\n"),
                '\t' if s.escape == Escape::Solidus => self.out.push_str("\\t"),
                '\r' if s.escape == Escape::Solidus => self.out.push_str("\\r"),
                '\u{8}' if s.escape == Escape::Solidus => self.out.push_str("\\b"),
                '\u{c}' if s.escape == Escape::Solidus => self.out.push_str("\\f"),
                c if all
                    || (c as u32) < 0x20
                    || (s.escape == Escape::NonAscii && !c.is_ascii()) =>
                {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        // Alternate the hex case: both are valid.
                        if self.out.len().is_multiple_of(2) {
                            let _ = write!(self.out, "\\u{unit:04x}");
                        } else {
                            let _ = write!(self.out, "\\u{unit:04X}");
                        }
                    }
                }
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }
}

/// The JSON text of `j`, with whitespace between tokens drawn from `ws` in turn.
pub fn serialise(j: &Json, ws: &[u8]) -> String {
    let mut w = Writer {
        out: String::new(),
        ws,
        n: 0,
    };
    w.value(j);
    w.out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> serde_json::Value {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn every_escape_reads_back_as_the_same_string() {
        let text = "a\"b\\c/d\n\t\r\u{8}\u{c}\u{1}é😀\u{2028}";
        for escape in [
            Escape::Minimal,
            Escape::NonAscii,
            Escape::All,
            Escape::Solidus,
        ] {
            let json = serialise(
                &Json::Str(JStr {
                    text: text.into(),
                    escape,
                }),
                &[],
            );
            assert_eq!(
                parse(&json),
                serde_json::Value::String(text.into()),
                "{json}"
            );
            match escape {
                Escape::Minimal => assert!(json.contains('é') && json.contains("\\\"")),
                Escape::NonAscii => {
                    assert!(json.is_ascii() && json.to_ascii_lowercase().contains("\\ud83d"))
                }
                Escape::All => assert!(json.starts_with("\"\\u0061")),
                Escape::Solidus => assert!(json.contains("\\/") && json.contains("\\n")),
            }
        }
    }

    #[test]
    fn whitespace_goes_between_tokens_only() {
        let tree = Json::Obj(vec![
            (
                s("k"),
                Json::Arr(vec![
                    Json::Num("-1.5e3".into()),
                    Json::Null,
                    Json::Bool(true),
                ]),
            ),
            (s("s"), Json::Str(s("a b"))),
        ]);
        let expected = serde_json::json!({"k": [-1.5e3, null, true], "s": "a b"});
        assert_eq!(
            serialise(&tree, &[]),
            r#"{"k":[-1.5e3,null,true],"s":"a b"}"#
        );
        for ws in [&[3u8][..], &[4], &[5, 6, 7], &[0, 1, 2, 3, 4, 5, 6, 7]] {
            let json = serialise(&tree, ws);
            assert_eq!(parse(&json), expected, "{json:?}");
            assert!(
                json.contains("\"a b\""),
                "whitespace inside a string: {json:?}"
            );
        }
        assert!(serialise(&tree, &[4]).contains('\n'));
    }
}
