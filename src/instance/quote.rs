//! SQL quoting for the few statements that cannot take bound parameters (CREATE DATABASE,
//! COMMENT ON, GRANT): identifiers double-quoted, literals dollar-quoted.

/// A double-quoted identifier with inner quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A dollar-quoted literal whose tag does not occur in the text, so no escaping rule (and no
/// `standard_conforming_strings` setting) can change its meaning.
pub fn quote_literal(text: &str) -> String {
    let mut tag = String::from("deploydb");
    while text.contains(&format!("${tag}$")) {
        tag.push('x');
    }
    format!("${tag}${text}${tag}$")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_literal("it's"), "$deploydb$it's$deploydb$");
        assert_eq!(
            quote_literal("x$deploydb$y"),
            "$deploydbx$x$deploydb$y$deploydbx$"
        );
    }
}
