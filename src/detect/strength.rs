//! How strong a finding is, and which findings decide the engines. A driver the app ships with
//! (`runtime`) outweighs one used while developing (`dev`), one an extra or a feature makes
//! available (`optional`), one only tests use (`test`) and one in an example or the docs
//! (`example`). A finding's strength is what its manifest says (dependency table, group, scope)
//! weakened by where the manifest sits: a `package.json` under `e2e/` is a test harness's, one
//! under `examples/` is a sample's, whatever its tables say.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::Finding;

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[serde(rename_all = "lowercase")]
pub enum Strength {
    #[default]
    Runtime,
    Dev,
    Optional,
    Test,
    Example,
}

impl Strength {
    /// The weaker of the two.
    pub fn at_most(self, other: Strength) -> Strength {
        self.max(other)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Strength::Runtime => "runtime",
            Strength::Dev => "dev",
            Strength::Optional => "optional",
            Strength::Test => "test",
            Strength::Example => "example",
        }
    }

    /// From the name of a dependency group, extra or requirements file: `test`, `tests`,
    /// `testing`, `ci` are tests; `dev`, `lint`, `docs`, `typing` and the like are development.
    pub fn of_group(name: &str) -> Strength {
        let name = name.to_ascii_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| name.contains(w));
        if has(&["test", "ci", "e2e", "bench"]) {
            Strength::Test
        } else if has(&["doc", "example", "sample"]) {
            Strength::Example
        } else if has(&["dev", "lint", "typ", "format", "local"]) {
            Strength::Dev
        } else {
            Strength::Runtime
        }
    }
}

/// Folders whose manifests belong to a test harness.
const TEST_DIRS: &[&str] = &[
    "test",
    "tests",
    "__tests__",
    "testing",
    "e2e",
    "e2e-tests",
    "playwright",
    "cypress",
    "integration-tests",
    "integration_tests",
    "fixtures",
    "testdata",
    "spec",
    "bench",
    "benches",
    "benchmarks",
];
/// Folders whose manifests are samples or documentation, not the app.
const EXAMPLE_DIRS: &[&str] = &[
    "example",
    "examples",
    "docs",
    "doc",
    "documentation",
    "sample",
    "samples",
    "demo",
    "demos",
    "starters",
    "playground",
];

/// Folders of add-ons: what they need, the app needs only when they are turned on.
const OPTIONAL_DIRS: &[&str] = &["plugins", "plugin", "extensions", "addons", "contrib"];

/// The strength a file's place caps its findings at (`Runtime` when its place says nothing).
pub fn of_location(rel_file: &str) -> Strength {
    let mut strength = Strength::Runtime;
    let mut parts: Vec<&str> = rel_file.split('/').collect();
    parts.pop();
    for part in parts {
        let part = part.to_ascii_lowercase();
        if OPTIONAL_DIRS.contains(&part.as_str()) {
            strength = strength.at_most(Strength::Optional);
        } else if EXAMPLE_DIRS.contains(&part.as_str()) {
            strength = strength.at_most(Strength::Example);
        } else if TEST_DIRS.contains(&part.as_str()) {
            strength = strength.at_most(Strength::Test);
        }
    }
    strength
}

/// SQL engines: a component offering more than one of these lets the user choose.
pub const SQL_ENGINES: &[&str] = &["postgres", "mysql", "sqlite", "sqlserver", "cockroachdb"];

/// What the findings decide: per component, the engines of its strongest tier (runtime, else
/// dev, else — when no component of the repository has runtime or dev evidence — optional;
/// test and example findings never count), and whether some component supports several SQL
/// engines for its own database.
pub struct Decision {
    pub engines: BTreeSet<String>,
    /// Components with several SQL engines among their counted ones, each with those engines.
    pub choices: BTreeMap<String, Vec<String>>,
}

pub fn decide(findings: &[Finding]) -> Decision {
    let mut by_component: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in findings.iter().filter(|f| !f.indirect) {
        by_component.entry(&f.component).or_default().push(f);
    }
    let mut engines = BTreeSet::new();
    let mut choices = BTreeMap::new();
    // An add-on package's or an extra's driver is the app's only when nothing stronger exists.
    let anything_stronger = findings
        .iter()
        .any(|f| !f.indirect && f.strength <= Strength::Dev);
    let tiers: &[Strength] = if anything_stronger {
        &[Strength::Runtime, Strength::Dev]
    } else {
        &[Strength::Optional]
    };
    for (component, found) in by_component {
        let tier = tiers
            .iter()
            .copied()
            .find(|s| found.iter().any(|f| f.strength == *s));
        // Optional backends count beside a runtime driver when they configure the app's own
        // database (a Cargo feature per backend, a `database` extra, a documented setting);
        // an extra with a data-source driver the app queries does not.
        let counted: BTreeSet<&str> = found
            .iter()
            .filter(|f| {
                Some(f.strength) == tier || (f.configures && f.strength == Strength::Optional)
            })
            .map(|f| f.engine.as_str())
            .collect();
        let sql: Vec<String> = counted
            .iter()
            .filter(|e| SQL_ENGINES.contains(e))
            .map(|e| e.to_string())
            .collect();
        if sql.len() > 1 {
            choices.insert(component.to_string(), sql);
        }
        engines.extend(counted.into_iter().map(str::to_string));
    }
    Decision { engines, choices }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn place_and_group_names_weaken() {
        assert_eq!(of_location("package.json"), Strength::Runtime);
        assert_eq!(of_location("apps/web/package.json"), Strength::Runtime);
        assert_eq!(of_location("e2e/package.json"), Strength::Test);
        assert_eq!(
            of_location("examples/blog/tests/package.json"),
            Strength::Example
        );
        assert_eq!(Strength::of_group("dev"), Strength::Dev);
        assert_eq!(Strength::of_group("tests"), Strength::Test);
        assert_eq!(Strength::of_group("server"), Strength::Runtime);
        assert_eq!(Strength::Dev.at_most(Strength::Test), Strength::Test);
    }
}
