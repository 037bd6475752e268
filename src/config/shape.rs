//! The shape of `deploydb.toml`, checked before it is read into the configuration, so that
//! every unknown key and every value of the wrong type is reported at once, with its line, in
//! the file's own words (`[migrate]`, `command = "…"`) rather than in the deserializer's.

/// The keys of each table, with what each holds. `""` is the top level.
const SCHEMA: &[(&str, &[(&str, Value)])] = &[
    (
        "",
        &[
            ("app", Value::Text),
            ("production_branch", Value::Text),
            ("isolation", Value::Text),
            ("preview", Value::Text),
            ("branch_from", Value::Text),
            ("instance", Value::Table),
            ("migrate", Value::Table),
            ("seed", Value::Table),
        ],
    ),
    (
        "instance",
        &[
            ("url_env", Value::Text),
            ("connect_timeout", Value::Text),
            ("ca_cert", Value::Text),
        ],
    ),
    (
        "migrate",
        &[
            ("command", Value::Text),
            ("timeout", Value::Text),
            ("lock_timeout", Value::Text),
            ("kill_after", Value::Text),
            ("schema", Value::Text),
            ("migrations", Value::Text),
        ],
    ),
    (
        "seed",
        &[("command", Value::Text), ("production", Value::Flag)],
    ),
];

#[derive(Clone, Copy, PartialEq)]
enum Value {
    Text,
    Flag,
    Table,
}

impl Value {
    fn describe(self) -> &'static str {
        match self {
            Value::Text => "a string in quotes",
            Value::Flag => "true or false",
            Value::Table => "a table",
        }
    }

    fn matches(self, item: &toml::Value) -> bool {
        matches!(
            (self, item),
            (Value::Text, toml::Value::String(_))
                | (Value::Flag, toml::Value::Boolean(_))
                | (Value::Table, toml::Value::Table(_))
        )
    }
}

/// Every problem with the file's shape, as (line, message), in the order of the file. A file
/// that is not TOML at all is the caller's to report (the parser's error has its own line).
pub fn problems(text: &str) -> Vec<(usize, String)> {
    let Ok(table) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    check("", &table, text, &mut found);
    found.sort();
    found
}

fn check(section: &str, table: &toml::Table, text: &str, found: &mut Vec<(usize, String)>) {
    let known = SCHEMA
        .iter()
        .find(|(name, _)| *name == section)
        .map_or(&[][..], |(_, keys)| *keys);
    let place = if section.is_empty() {
        "at the top level".to_string()
    } else {
        format!("in [{section}]")
    };
    for (key, item) in table {
        let line = line_of_key(text, section, key);
        let Some((_, expected)) = known.iter().find(|(name, _)| name == key) else {
            let names: Vec<&str> = known.iter().map(|(name, _)| *name).collect();
            found.push((
                line,
                format!("unknown key `{key}` {place} (known: {})", names.join(", ")),
            ));
            continue;
        };
        if !expected.matches(item) {
            let message = match (*expected, item) {
                (Value::Table, toml::Value::String(value)) => format!(
                    "`{key}` is a section, not a value: write `[{key}]` on a line of its own and the setting under it, e.g. `command = {value:?}`"
                ),
                _ => format!(
                    "`{key}` {place} must be {}, not {}",
                    expected.describe(),
                    item.type_str()
                ),
            };
            found.push((line, message));
            continue;
        }
        if let toml::Value::Table(inner) = item {
            check(key, inner, text, found);
        }
    }
}

/// The line `key = …` is on, within `[section]` (or before the first section); 1 when not
/// found (a key written in dotted or inline form).
fn line_of_key(text: &str, section: &str, key: &str) -> usize {
    let mut current = "";
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(name) = trimmed.strip_prefix('[').and_then(|t| t.split(']').next()) {
            current = name.trim();
            if section.is_empty() && current == key {
                return i + 1;
            }
            continue;
        }
        let written = trimmed
            .split('=')
            .next()
            .map(|k| k.trim().trim_matches('"'))
            .unwrap_or_default();
        if current == section && written == key && trimmed.contains('=') {
            return i + 1;
        }
    }
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_found_with_its_line() {
        let text = "app = \"shop\"\nmigrate = \"./migrate.sh\"\nisolaton = \"role\"\n\n[seed]\nproduction = \"yes\"\ncomand = \"x\"\n";
        let found = problems(text);
        let lines: Vec<usize> = found.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![2, 3, 6, 7], "{found:?}");
        assert!(found[0].1.contains("write `[migrate]`"), "{found:?}");
        assert!(found[1].1.contains("unknown key `isolaton`"), "{found:?}");
        assert!(found[2].1.contains("true or false"), "{found:?}");
        assert!(
            found[3].1.contains("unknown key `comand` in [seed]"),
            "{found:?}"
        );
        assert!(problems("app = \"shop\"\n[migrate]\ncommand = \"x\"\n").is_empty());
    }
}
