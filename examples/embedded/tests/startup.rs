//! The application on the three real databases: the first start applies
//! the compiled-in revisions and finds the models in sync, a second start
//! applies nothing; a database that drifted from the models stops it; its
//! own migrator binary prints what `migrate` prints.

#[path = "../../../tests/common/mod.rs"]
mod common;

use migrate::db::Backend;
use std::process::{Command, Output};

fn app(url: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_embedded")).arg(url).output().expect("the application runs")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn starts_upgrades_and_checks(backend: Backend) {
    let Some(db) = common::fresh_db(backend, "embedded_app") else { return };
    let first = app(&db.url);
    let out = text(&first);
    assert!(first.status.success(), "{out}");
    assert!(out.contains("applied a1users create users") && out.contains("applied b2posts create posts"), "{out}");
    assert!(out.contains("database at b2posts (2 revisions applied now)\nmodels in sync\nwrote a user"), "{out}");
    let second = app(&db.url);
    assert!(second.status.success(), "{}", text(&second));
    assert!(
        text(&second).starts_with("database at b2posts (0 revisions applied now)\nmodels in sync\n"),
        "{}",
        text(&second)
    );

    // A column added behind the application's back: the guard refuses.
    db.connect().execute("ALTER TABLE posts ADD COLUMN extra integer").unwrap();
    let drifted = app(&db.url);
    assert!(!drifted.status.success());
    assert!(
        text(&drifted).contains("error: the database does not match the models: it needs drop_column posts.extra"),
        "{}",
        text(&drifted)
    );
}

#[test]
fn sqlite() {
    starts_upgrades_and_checks(Backend::Sqlite);
}

#[test]
fn postgres() {
    starts_upgrades_and_checks(Backend::Postgres);
}

#[test]
fn mysql() {
    starts_upgrades_and_checks(Backend::Mysql);
}

#[test]
fn its_own_migrator_binary_is_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("app.db").display());
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/migrate.toml");
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_embedded-migrate"))
            .args(["--config", config, "--url", &url])
            .args(args)
            .output()
            .unwrap();
        (output.status.code(), text(&output))
    };
    let (code, upgraded) = run(&["upgrade", "--json"]);
    assert_eq!(code, Some(0), "{upgraded}");
    assert!(upgraded.contains("\"heads\": [\n    \"b2posts\"\n  ]"), "{upgraded}");
    let history = "a1users -> b2posts (head), create posts\n<base> -> a1users, create users\n";
    assert_eq!(run(&["history"]), (Some(0), history.to_string()));
    assert_eq!(
        run(&["check"]),
        (Some(0), format!("{url}: the database matches the models\n").replace("sqlite://", "sqlite:"))
    );
    assert_eq!(run(&["upgrade", "nope"]), (Some(2), "error: no revision `nope`\n".to_string()));
    assert_eq!(run(&["nonsense"]).0, Some(2));
}
