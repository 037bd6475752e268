//! The frameworks that bring their own migrator: Rails (`bin/rails db:migrate`), Phoenix/Ecto
//! (`mix ecto.migrate`), Laravel (`php artisan migrate --force`: without `--force` it asks for
//! confirmation in production and fails in CI) and Symfony's Doctrine migrations.

use super::{Folder, Found};

pub(super) fn suggest(folder: &Folder, found: &mut Found) {
    if let Some(gemfile) = folder.text("Gemfile") {
        let rails = gemfile.lines().any(|l| {
            let l = l.trim();
            l.starts_with("gem \"rails\"")
                || l.starts_with("gem 'rails'")
                || l.starts_with("gem \"activerecord\"")
                || l.starts_with("gem 'activerecord'")
        });
        if rails && folder.exists("bin/rails") {
            found.push(("rails", "bin/rails db:migrate".into()));
        }
    }
    if let Some(mix) = folder.text("mix.exs") {
        let ecto = mix.contains(":ecto_sql") || mix.contains(":ecto,");
        // An umbrella's root runs every app's migrations; an app's own mix.exs needs a repo's
        // migrations folder.
        let migrations = folder.exists("priv/repo/migrations")
            || folder.exists("config/config.exs") && mix.contains("apps_path");
        if ecto && migrations {
            found.push(("ecto", "mix ecto.migrate".into()));
        }
    }
    if let Some(composer) = folder.text("composer.json")
        && let Ok(json) = serde_json::from_str::<serde_json::Value>(&composer)
    {
        if crate::detect::php::is_laravel(&json) && folder.exists("artisan") {
            found.push(("laravel", "php artisan migrate --force".into()));
        } else if composer.contains("doctrine/doctrine-migrations-bundle")
            && folder.exists("bin/console")
        {
            found.push((
                "doctrine",
                "php bin/console doctrine:migrations:migrate --no-interaction".into(),
            ));
        }
    }
}
