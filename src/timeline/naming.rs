//! Database names: `{app}-production`, `{app}-preview`, `{app}-pr-{N}`, `{app}-template`,
//! `{app}--{slug}`. Only branch names have the double dash, so no branch (`production`, `pr-5`)
//! can ever land on another kind's database; the 63-byte cap keeps PostgreSQL from silently
//! truncating two long branch names onto one database. A branch's name is one of a short list
//! of candidates ([`branch_candidates`]); which one it holds is decided by the ownership record
//! on the server, so a branch named after another's hashed form cannot share its database.

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// PostgreSQL's NAMEDATALEN - 1.
pub const MAX_NAME: usize = 63;
/// Room for `-production` and a hashed branch slug after the app name.
pub const MAX_APP: usize = 40;
const HASH_HEX: usize = 8;

/// Lower-case ASCII letters and digits; Latin letters with marks are folded to theirs (`Ü` to
/// `u`, `ß` to `ss`); every other run of characters becomes one `-`; trimmed.
pub fn slug(input: &str) -> String {
    slug_and_loss(input).0
}

/// The slug, and whether a letter or digit was lost on the way (`日本語`, `Ω`): such a slug
/// could be shared by branches that differ only in what was lost, so [`branch`] gives it the
/// hashed form.
fn slug_and_loss(input: &str) -> (String, bool) {
    let mut out = String::with_capacity(input.len());
    let mut dash = false;
    let mut lost = false;
    for c in input.chars().flat_map(char::to_lowercase) {
        let folded = if c.is_ascii_alphanumeric() {
            Some(c.encode_utf8(&mut [0; 4]).to_string())
        } else {
            fold(c).map(str::to_string)
        };
        match folded {
            Some(text) => {
                if dash && !out.is_empty() {
                    out.push('-');
                }
                dash = false;
                out.push_str(&text);
            }
            None => {
                lost |= c.is_alphanumeric();
                dash = true;
            }
        }
    }
    (out, lost)
}

/// The ASCII letters a Latin letter with a mark (or a ligature) stands for.
fn fold(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'č' | 'ĉ' | 'ċ' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'ĥ' | 'ħ' => "h",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'ĵ' => "j",
        'ķ' => "k",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'ñ' | 'ń' | 'ņ' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
        'œ' => "oe",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'ś' | 'ŝ' | 'ş' | 'š' => "s",
        'ß' => "ss",
        'ţ' | 'ť' | 'ŧ' => "t",
        'þ' => "th",
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'ŵ' => "w",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        _ => return None,
    })
}

/// Checks an app name against `[a-z0-9]+(-[a-z0-9]+)*` and the length cap.
pub fn validate_app(app: &str) -> Result<()> {
    let well_formed = !app.is_empty()
        && app.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    if !well_formed {
        return Err(Error::usage(format!(
            "app name `{app}` is not valid: use lower-case letters and digits separated by single dashes"
        ))
        .with_hint("set `app = \"my-app\"` in deploydb.toml, DEPLOYDB_APP or --app"));
    }
    if app.len() > MAX_APP {
        return Err(Error::usage(format!(
            "app name `{app}` is {} bytes long; at most {MAX_APP} are allowed so that every database name fits in 63 bytes",
            app.len()
        ))
        .with_hint("set a shorter `app` in deploydb.toml, DEPLOYDB_APP or --app"));
    }
    Ok(())
}

pub fn production(app: &str) -> String {
    format!("{app}-production")
}

pub fn preview(app: &str) -> String {
    format!("{app}-preview")
}

/// The schema-only database new branch databases are copied from.
pub fn template(app: &str) -> String {
    format!("{app}-template")
}

/// One pull/merge request's own preview database. Single dash: branch databases always have
/// two, so a branch called `pr-5` can never take (or block) pull request 5's database.
pub fn pr(app: &str, number: u64) -> String {
    format!("{app}-pr-{number}")
}

/// The name deploydb before 0.2 gave a pull request's database; still recognised as that
/// preview's, so existing ones are listed, dropped and pruned.
pub fn pr_legacy(app: &str, number: u64) -> String {
    format!("{app}--pr-{number}")
}

/// `{app}--{slug}`; when that would pass 63 bytes, the slug is empty, or letters were lost in
/// it (a script with no ASCII form), the slug is cut and
/// `-` plus 8 hex digits of SHA-256 of the full branch name are appended, so distinct branches
/// keep distinct databases.
pub fn branch(app: &str, branch: &str) -> String {
    let prefix = format!("{app}--");
    let (slug, lost) = slug_and_loss(branch);
    if !slug.is_empty() && !lost && prefix.len() + slug.len() <= MAX_NAME {
        return prefix + &slug;
    }
    branch_hashed(app, branch)
}

/// The hashed form, always: used when the plain form is long, empty, or already taken by another
/// branch with the same slug.
pub fn branch_hashed(app: &str, branch: &str) -> String {
    hashed(app, branch, HASH_HEX)
}

/// Every name a branch may hold, in the order they are tried: the plain form (when it fits),
/// the hashed form, and a longer hash for when another branch already holds the hashed form
/// (two branches whose slugs meet, or one named after the other's hashed form on purpose).
pub fn branch_candidates(app: &str, branch_name: &str) -> Vec<String> {
    let mut names = vec![branch(app, branch_name)];
    for name in [
        hashed(app, branch_name, HASH_HEX),
        hashed(app, branch_name, LONG_HASH_HEX),
    ] {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

const LONG_HASH_HEX: usize = 20;

fn hashed(app: &str, branch: &str, hex: usize) -> String {
    let prefix = format!("{app}--");
    let slug = slug(branch);
    let digest = Sha256::digest(branch.as_bytes());
    let hash: String = digest
        .iter()
        .take(hex / 2)
        .map(|b| format!("{b:02x}"))
        .collect();
    let room = MAX_NAME.saturating_sub(prefix.len() + 1 + hex);
    let cut = slug[..room.min(slug.len())].trim_end_matches('-');
    if cut.is_empty() {
        prefix + &hash
    } else {
        format!("{prefix}{cut}-{hash}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn slug_folds_runs_and_trims() {
        assert_eq!(slug("Feature/Login--Page_2"), "feature-login-page-2");
        assert_eq!(slug("--x--"), "x");
        assert_eq!(slug("Ünïcode"), "unicode");
        assert_eq!(slug("Straße/Æble"), "strasse-aeble");
        assert_eq!(slug("///"), "");
    }

    #[test]
    fn names_by_kind() {
        assert_eq!(production("shop"), "shop-production");
        assert_eq!(preview("shop"), "shop-preview");
        assert_eq!(branch("shop", "feature/x"), "shop--feature-x");
        assert_ne!(branch("shop", "production"), production("shop"));
        assert_ne!(branch("shop", "pr-5"), pr("shop", 5));
    }

    #[test]
    fn candidates_are_distinct_and_fit() {
        for name in ["feature/x", &"a".repeat(100), "日本"] {
            let all = branch_candidates("shop", name);
            assert!(all.len() >= 2, "{all:?}");
            assert!(
                all.iter()
                    .all(|n| n.len() <= MAX_NAME && n.starts_with("shop--"))
            );
            let mut unique = all.clone();
            unique.dedup();
            assert_eq!(unique, all);
        }
    }

    #[test]
    fn long_branches_are_cut_and_hashed() {
        let a = branch("shop", &"a".repeat(100));
        let b = branch("shop", &format!("{}b", "a".repeat(99)));
        assert_eq!(a.len(), MAX_NAME);
        assert_ne!(a, b);
        assert!(a.starts_with("shop--aaaa"));
    }

    #[test]
    fn lossy_slugs_are_marked_with_the_hash() {
        let name = branch("notes", "feat/Ünïcödé/日本語-ß");
        assert!(name.starts_with("notes--feat-unicode-ss-"), "{name}");
        assert_eq!(name.len(), "notes--feat-unicode-ss-".len() + HASH_HEX);
        assert_ne!(name, branch("notes", "feat/Ünïcödé/中文-ß"));
        assert_eq!(branch("notes", "feat/Ünïcödé"), "notes--feat-unicode");
    }

    #[test]
    fn empty_slug_gets_a_hash() {
        let name = branch("shop", "日本");
        assert_eq!(name.len(), "shop--".len() + HASH_HEX);
        assert_ne!(name, branch("shop", "中国"));
    }

    #[test]
    fn app_validation() {
        assert!(validate_app("my-app2").is_ok());
        for bad in ["", "My", "a--b", "-a", "a-", "a_b", &"a".repeat(41)] {
            assert!(validate_app(bad).is_err(), "{bad:?} accepted");
        }
    }

    proptest! {
        #[test]
        fn branch_names_are_valid_identifiers(app in "[a-z0-9]{1,10}(-[a-z0-9]{1,9}){0,3}", name in any::<String>()) {
            let db = branch(&app, &name);
            prop_assert!(db.len() <= MAX_NAME);
            let prefix = format!("{app}--");
            prop_assert!(db.starts_with(&prefix));
            let rest = &db[app.len() + 2..];
            prop_assert!(!rest.is_empty());
            prop_assert!(!rest.starts_with('-') && !rest.ends_with('-') && !rest.contains("--"));
            prop_assert!(rest.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
        }

        #[test]
        fn slug_is_idempotent_and_clean(input in any::<String>()) {
            let s = slug(&input);
            prop_assert_eq!(slug(&s), s.clone());
            prop_assert!(!s.starts_with('-') && !s.ends_with('-') && !s.contains("--"));
        }

        #[test]
        fn distinct_long_branches_stay_distinct(a in "[a-z]{70,90}", b in "[a-z]{70,90}") {
            prop_assume!(a != b);
            prop_assert_ne!(branch("app", &a), branch("app", &b));
        }
    }
}
