//! The one type that holds credentials. Its `Debug` and `Display` never show the value, so a
//! password cannot reach a log, an error or a panic message by accident; reading it takes an
//! explicit, greppable call to [`Secret::expose`].

use std::fmt;

/// A value that must never be printed: a password, or a URL that carries one.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself, for the few places that must hand it on (a connection, a child's
    /// environment, an export file).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

impl Secret {
    /// The forms in which this value can reach a log: as it is; percent-encoded the ways
    /// libraries do it (every non-alphanumeric byte, upper- or lower-case hex; Python's
    /// `quote`, which leaves `/` alone, and `quote_plus`, which writes a space as `+`; the URL
    /// userinfo form deploydb exports); base64 (standard and URL-safe, padded or not); hex; and
    /// escaped inside a JSON string. Each is masked, so printing it any of these ways shows
    /// `****`.
    pub fn encodings(&self) -> Vec<String> {
        use base64::Engine;
        use base64::engine::general_purpose::{
            STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD,
        };
        use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
        const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'.')
            .remove(b'_')
            .remove(b'~');
        const PY_QUOTE: &AsciiSet = &UNRESERVED.remove(b'/');
        let value = self.0.as_str();
        if value.is_empty() {
            return Vec::new();
        }
        let strict = utf8_percent_encode(value, NON_ALPHANUMERIC).to_string();
        let lower = lower_hex_escapes(&strict);
        let mut forms = vec![
            value.to_string(),
            strict,
            lower,
            utf8_percent_encode(value, UNRESERVED).to_string(),
            utf8_percent_encode(value, PY_QUOTE).to_string(),
            utf8_percent_encode(value, UNRESERVED)
                .to_string()
                .replace("%20", "+"),
            STANDARD.encode(value),
            STANDARD_NO_PAD.encode(value),
            URL_SAFE.encode(value),
            URL_SAFE_NO_PAD.encode(value),
            value.bytes().map(|b| format!("{b:02x}")).collect(),
            value.bytes().map(|b| format!("{b:02X}")).collect(),
            serde_json::to_string(value)
                .map(|q| q[1..q.len() - 1].to_string())
                .unwrap_or_default(),
            // Inside single quotes, as POSIX shells (`'\''`) and Python's shlex.quote
            // (`'"'"'`) write a quote; inside double quotes; and backslash-escaped as bash's
            // `printf %q` writes a word.
            value.replace('\'', r"'\''"),
            value.replace('\'', r#"'"'"'"#),
            escape_with_backslash(value, |_, c| matches!(c, '"' | '$' | '`' | '\\')),
            escape_with_backslash(value, |i, c| {
                SHELL_SPECIAL.contains(c) || (i == 0 && matches!(c, '#' | '~'))
            }),
        ];
        forms.retain(|f| !f.is_empty());
        forms.sort();
        forms.dedup();
        forms
    }
}

/// What bash's `printf %q` puts a backslash before (its `bstab` table); `#` and `~` only at the
/// start of the word.
const SHELL_SPECIAL: &str = "\t\n !\"$&'()*,;<>?[\\]^`{|}";

/// `value` with a backslash before each character `special(index, char)` picks.
fn escape_with_backslash(value: &str, special: impl Fn(usize, char) -> bool) -> String {
    let mut out = String::with_capacity(value.len() * 2);
    for (i, c) in value.char_indices() {
        if special(i, c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `%2F` → `%2f`: some encoders write lower-case hex digits.
fn lower_hex_escapes(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut chars = encoded.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '%' {
            for _ in 0..2 {
                if let Some(h) = chars.next() {
                    out.push(h.to_ascii_lowercase());
                }
            }
        }
    }
    out
}

/// `bytes` random bytes from the OS, as hex: names and passwords nobody can predict.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the OS random number generator works");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_common_encoding_is_listed() {
        let forms = Secret::new("a/b c%d").encodings();
        for expected in [
            "a/b c%d",
            "a%2Fb%20c%25d",
            "a%2fb%20c%25d",
            "a/b%20c%25d",
            "a%2Fb+c%25d",
            "YS9iIGMlZA==",
            "YS9iIGMlZA",
            "612f622063256",
            "612F622063256",
        ] {
            assert!(
                forms.iter().any(|f| f.starts_with(expected)),
                "{expected} missing from {forms:?}"
            );
        }
    }

    /// The forms shells and their quoting helpers write, as bash's `printf %q`, POSIX single
    /// quotes, Python's `shlex.quote` and double quotes give them.
    #[test]
    fn shell_escapes_are_listed() {
        let forms = Secret::new("#it's $5 a~b").encodings();
        for expected in [
            r"\#it\'s\ \$5\ a~b",
            r"#it'\''s $5 a~b",
            r#"#it'"'"'s $5 a~b"#,
            r"#it's \$5 a~b",
        ] {
            assert!(
                forms.iter().any(|f| f == expected),
                "{expected} missing from {forms:?}"
            );
        }
    }

    #[test]
    fn formatting_never_shows_the_value() {
        let secret = Secret::new("hunter2");
        assert!(!format!("{secret:?} {secret} {secret:#?}").contains("hunter2"));
        assert_eq!(secret.expose(), "hunter2");
    }
}
