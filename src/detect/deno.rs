//! Deno: `deno.json` / `deno.jsonc` imports (`npm:pg`, `npm:postgres`, `jsr:@db/postgres`,
//! deno.land/x/postgres). JSONC comments and trailing commas are removed before parsing.

use serde_json::Value;

use super::{Found, Manifest};

pub(super) fn read(manifest: &Manifest, found: &mut Found) {
    let json: Value = match serde_json::from_str(&strip_jsonc(&manifest.text)) {
        Ok(v) => v,
        Err(e) => {
            found
                .warnings
                .push(manifest.warning(format!("not valid JSON(C): {e}")));
            return;
        }
    };
    let Some(imports) = json.get("imports").and_then(Value::as_object) else {
        return;
    };
    for specifier in imports.values().filter_map(Value::as_str) {
        let package = specifier
            .strip_prefix("npm:")
            .or_else(|| specifier.strip_prefix("jsr:"))
            .map(|p| {
                // Drop a version: `pg@8`, `@db/postgres@0.19`.
                let at = p
                    .char_indices()
                    .skip(1)
                    .find(|(_, c)| *c == '@')
                    .map_or(p.len(), |(i, _)| i);
                &p[..at]
            });
        let postgres = matches!(
            package,
            Some("pg" | "postgres" | "@db/postgres" | "@neondatabase/serverless")
        ) || specifier.contains("deno.land/x/postgres");
        if postgres {
            let line = manifest.line_of(specifier);
            found.findings.push(manifest.finding(
                "postgres",
                "deno",
                package.unwrap_or(specifier),
                line,
            ));
        }
    }
}

/// JSON with `//` and `/* */` comments and trailing commas, as plain JSON; strings are left
/// alone and line breaks are kept, so line numbers stay right.
fn strip_jsonc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                '\\' => out.extend(chars.next()),
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match (c, chars.peek()) {
            ('"', _) => {
                in_string = true;
                out.push(c);
            }
            ('/', Some('/')) => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            ('/', Some('*')) => {
                chars.next();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                    }
                    if last == '*' && c == '/' {
                        break;
                    }
                    last = c;
                }
            }
            _ => out.push(c),
        }
    }
    // Trailing commas: a comma followed only by whitespace before `}` or `]`.
    let mut cleaned = String::with_capacity(out.len());
    let bytes: Vec<char> = out.chars().collect();
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if in_string {
            if c == '\\' {
                cleaned.push(c);
                i += 1;
                if i < bytes.len() {
                    cleaned.push(bytes[i]);
                }
                i += 1;
                continue;
            }
            if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        } else if c == ',' {
            let next = bytes[i + 1..].iter().find(|c| !c.is_whitespace());
            if matches!(next, Some('}' | ']')) {
                i += 1;
                continue;
            }
        }
        cleaned.push(c);
        i += 1;
    }
    cleaned
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonc_is_cleaned_without_touching_strings() {
        let text =
            "{\n  // comment\n  \"a\": \"x // not a comment\", /* block\n */ \"b\": [1, 2,],\n}\n";
        let json: Value = serde_json::from_str(&strip_jsonc(text)).unwrap();
        assert_eq!(json["a"], "x // not a comment");
        assert_eq!(json["b"], serde_json::json!([1, 2]));
        assert_eq!(
            strip_jsonc(text).matches('\n').count(),
            text.matches('\n').count()
        );
    }
}
