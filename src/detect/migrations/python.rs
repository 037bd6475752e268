//! Python's migration tools: Django's `manage.py migrate` (only when `manage.py` is Django's),
//! Flask-Migrate's `flask db upgrade` (its `migrations/` folder holds an `alembic.ini` and an
//! `env.py` that needs the app, so plain Alembic must not run there), and Alembic where
//! `alembic.ini`'s `script_location` exists.

use super::{Folder, Found, up_to_root};

/// How a Python command runs inside the project's environment: the tool that manages it (from
/// the nearest lockfile up to the root), else the repository's own virtualenv, else as it is.
fn runner(folder: &Folder) -> (&'static str, &'static str) {
    for d in up_to_root(folder.dir, folder.root) {
        let has = |f: &str| folder.exists_in(d, f);
        if has("uv.lock") {
            return ("uv run ", "");
        } else if has("poetry.lock") {
            return ("poetry run ", "");
        } else if has("Pipfile.lock") {
            return ("pipenv run ", "");
        }
    }
    // No lockfile committed: the project's own pyproject.toml still says who manages it.
    for d in up_to_root(folder.dir, folder.root) {
        let text = folder.text_in(d, "pyproject.toml").unwrap_or_default();
        if text.contains("[tool.poetry") {
            return ("poetry run ", "");
        } else if text.contains("[tool.uv") {
            return ("uv run ", "");
        }
    }
    if folder.exists(".venv/bin/python") {
        return ("", ".venv/bin/");
    }
    ("", "")
}

/// Whether Flask-Migrate is a requirement of this folder or one above it.
fn uses_flask_migrate(folder: &Folder) -> bool {
    requires(folder, &["flask-migrate", "flask_migrate"], true)
}

/// Whether one of `names` (lower case) is in the Python manifests of this folder (or, with
/// `above`, of one up to the root).
fn requires(folder: &Folder, names: &[&str], above: bool) -> bool {
    let dirs: Vec<&std::path::Path> = if above {
        up_to_root(folder.dir, folder.root).collect()
    } else {
        vec![folder.dir]
    };
    dirs.into_iter().any(|d| {
        [
            "pyproject.toml",
            "requirements.txt",
            "setup.py",
            "setup.cfg",
            "Pipfile",
        ]
        .iter()
        .chain(["requirements/base.txt", "requirements/prod.txt"].iter())
        .filter_map(|f| folder.text_in(d, f))
        .any(|t| {
            let t = t.to_ascii_lowercase();
            names.iter().any(|n| t.contains(n))
        })
    })
}

/// A migrations folder made by Flask-Migrate: its env.py takes the engine from the Flask app.
fn is_flask_migrations(folder: &Folder, migrations: &str) -> bool {
    folder
        .text(&format!("{migrations}/env.py"))
        .is_some_and(|t| t.contains("current_app") || t.contains("flask"))
}

/// Flask-Migrate folders of this package (not of a nested one), relative to it: the `env.py`
/// files that take their engine from the Flask app.
fn flask_folders(folder: &Folder) -> Vec<String> {
    let package_markers = [
        "pyproject.toml",
        "setup.py",
        "setup.cfg",
        "requirements.txt",
    ];
    let mut out: Vec<String> = folder
        .files_below()
        .filter(|(path, rel)| {
            rel.rsplit('/').next() == Some("env.py")
                && crate::detect::read::text(path)
                    .is_ok_and(|t| t.contains("current_app") || t.contains("flask"))
                && !path
                    .parent()
                    .into_iter()
                    .flat_map(|p| p.ancestors())
                    .take_while(|d| *d != folder.dir && d.starts_with(folder.dir))
                    .any(|d| package_markers.iter().any(|m| folder.exists_in(d, m)))
        })
        .map(|(_, rel)| rel.rsplit_once('/').map_or(".", |(d, _)| d).to_string())
        .collect();
    out.sort_by_key(|d| (d.matches('/').count(), d.clone()));
    out
}

pub(super) fn suggest(folder: &Folder, found: &mut Found) {
    let before = found.len();
    suggest_bare(folder, found);
    // The runner is looked for only where there is something to run.
    if found.len() > before {
        let (run, bin) = runner(folder);
        for (_, command) in &mut found[before..] {
            *command = format!("{run}{bin}{command}");
        }
    }
}

/// The suggestions with the bare commands (`python manage.py migrate`), before the runner.
fn suggest_bare(folder: &Folder, found: &mut Found) {
    let (run, bin) = ("", "");
    let manage = folder.text("manage.py");
    let is_package = [
        "pyproject.toml",
        "setup.py",
        "setup.cfg",
        "requirements.txt",
    ]
    .iter()
    .any(|m| folder.exists(m));
    let flask_dirs = if is_package {
        flask_folders(folder)
    } else {
        Vec::new()
    };
    if let Some(manage) = &manage {
        if manage.contains("django") || manage.contains("DJANGO_SETTINGS_MODULE") {
            found.push(("django", format!("{run}{bin}python manage.py migrate")));
        } else if manage.contains("MigrateCommand") || manage.contains("flask_migrate") {
            // Flask-Script's manager exposes Flask-Migrate as `manage.py db`.
            found.push((
                "flask-migrate",
                format!("{run}{bin}python manage.py db upgrade"),
            ));
        }
    }
    if let Some(dir) = flask_dirs.first()
        && !found.iter().any(|(t, _)| *t == "flask-migrate")
        && (uses_flask_migrate(folder) || manage.is_none())
    {
        // `flask db` looks for ./migrations unless told where the folder is.
        let flag = if dir == "migrations" {
            String::new()
        } else {
            format!(" -d {dir}")
        };
        found.push(("flask-migrate", format!("{run}{bin}flask db upgrade{flag}")));
    }
    // Flask-Alembic keeps Alembic's configuration in the app: `flask db upgrade`.
    if is_package
        && !folder.exists("alembic.ini")
        && requires(folder, &["flask-alembic", "flask_alembic"], false)
    {
        found.push(("alembic", format!("{run}{bin}flask db upgrade")));
    }
    if let Some(ini) = folder.text("alembic.ini") {
        // Flask-Migrate keeps an alembic.ini inside its own migrations folder.
        let inside_flask = folder.dir.file_name().is_some_and(|n| n == "migrations")
            && is_flask_migrations(folder, ".");
        let location = ini
            .lines()
            .find_map(|l| l.trim().strip_prefix("script_location"))
            .and_then(|r| r.trim_start().strip_prefix('='))
            .map(|v| v.trim().replace("%(here)s/", "").replace("%(here)s", "."))
            .unwrap_or_else(|| "alembic".into());
        let has_location = location.contains(':') || folder.exists(&location);
        if !inside_flask && has_location {
            found.push(("alembic", format!("{run}{bin}alembic upgrade head")));
        }
    }
}
