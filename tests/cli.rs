//! The `migrate` binary run the way a user runs it, in temporary folders.

mod common;

use assert_cmd::Command;
use common::fresh_db;
use migrate::db::Backend;
use predicates::prelude::*;
use std::path::Path;

fn migrate(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("migrate").unwrap();
    cmd.current_dir(dir).env_remove("DATABASE_URL").env("NO_COLOR", "1");
    cmd
}

/// Creates an SQLite database file at `path` with a small schema.
fn sqlite_with_tables(path: &Path) {
    let url = migrate::db::DatabaseUrl::parse(&format!("sqlite:{}", path.display())).unwrap();
    let mut conn = migrate::db::Connection::open(&url, migrate::db::OpenMode::ReadWrite).unwrap();
    conn.execute(
        "CREATE TABLE authors (id INTEGER PRIMARY KEY AUTOINCREMENT, name VARCHAR(100) NOT NULL UNIQUE);
         CREATE TABLE books (
             id INTEGER NOT NULL PRIMARY KEY,
             author_id INTEGER NOT NULL REFERENCES authors (id) ON DELETE CASCADE,
             title TEXT NOT NULL DEFAULT 'untitled',
             price NUMERIC(8,2) CHECK (price >= 0)
         );
         CREATE INDEX ix_books_author ON books (author_id);
         CREATE TABLE migrate_version (version_num VARCHAR(32) NOT NULL);",
    )
    .unwrap();
}

#[test]
fn init_writes_the_generic_template() {
    let dir = tempfile::tempdir().unwrap();
    migrate(dir.path()).arg("init").assert().success().stdout(predicate::str::contains("created"));
    assert!(dir.path().join("migrate.toml").is_file());
    assert!(dir.path().join("migrations/versions").is_dir());
    assert!(dir.path().join("models").is_dir());
    let config = std::fs::read_to_string(dir.path().join("migrate.toml")).unwrap();
    assert!(config.contains("database_url = \"sqlite:app.db\""));
}

#[test]
fn init_multidb_into_a_new_folder_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = migrate(dir.path()).args(["init", "proj", "--template", "multidb", "--json"]).assert().success();
    let json: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(json["template"], "multidb");
    assert!(dir.path().join("proj/migrations/analytics/versions").is_dir());
}

#[test]
fn init_refuses_to_overwrite_and_unknown_template_fails() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("migrate.toml"), "mine").unwrap();
    migrate(dir.path()).arg("init").assert().code(2).stderr(predicate::str::contains("migrate.toml already exists"));
    assert_eq!(std::fs::read_to_string(dir.path().join("migrate.toml")).unwrap(), "mine");
    migrate(dir.path())
        .args(["init", "x", "-t", "nope"])
        .assert()
        .code(2)
        .stderr("error: unknown template `nope` (available: generic, multidb)\n");
    assert!(!dir.path().join("x").exists());
}

#[test]
fn list_templates() {
    let dir = tempfile::tempdir().unwrap();
    let out = migrate(dir.path()).arg("list-templates").assert().success();
    insta::assert_snapshot!(String::from_utf8_lossy(&out.get_output().stdout));
}

#[test]
fn inspect_sqlite_human_and_json() {
    let dir = tempfile::tempdir().unwrap();
    sqlite_with_tables(&dir.path().join("shop.db"));
    std::fs::write(dir.path().join("migrate.toml"), "database_url = \"sqlite:shop.db\"\n").unwrap();
    let out = migrate(dir.path()).arg("inspect").assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(!text.contains("migrate_version"), "the tool's own table is not reported:\n{text}");
    insta::assert_snapshot!("inspect_sqlite_text", text);
    let out = migrate(dir.path()).args(["inspect", "--json"]).assert().success();
    let json: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    insta::assert_json_snapshot!("inspect_sqlite_json", json);
}

#[test]
fn url_precedence_flag_env_dotenv_config() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["config", "dotenv", "env", "flag"] {
        let url =
            migrate::db::DatabaseUrl::parse(&format!("sqlite:{}", dir.path().join(format!("{name}.db")).display()));
        let mut conn = migrate::db::Connection::open(&url.unwrap(), migrate::db::OpenMode::ReadWrite).unwrap();
        conn.execute(&format!("CREATE TABLE from_{name} (id INTEGER)")).unwrap();
    }
    std::fs::write(dir.path().join("migrate.toml"), "database_url = \"sqlite:config.db\"\n").unwrap();
    let tables = |cmd: &mut Command| {
        let out = cmd.args(["inspect", "--json"]).assert().success();
        let json: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
        json["schema"]["tables"][0]["name"].as_str().unwrap().to_string()
    };
    assert_eq!(tables(&mut migrate(dir.path())), "from_config");
    std::fs::write(dir.path().join(".env"), "DATABASE_URL=sqlite:dotenv.db\n").unwrap();
    assert_eq!(tables(&mut migrate(dir.path())), "from_dotenv");
    assert_eq!(tables(migrate(dir.path()).env("DATABASE_URL", "sqlite:env.db")), "from_env");
    assert_eq!(
        tables(migrate(dir.path()).env("DATABASE_URL", "sqlite:env.db").args(["--url", "sqlite:flag.db"])),
        "from_flag"
    );
}

#[test]
fn missing_sqlite_file_is_an_error_and_not_created() {
    let dir = tempfile::tempdir().unwrap();
    migrate(dir.path())
        .args(["inspect", "--url", "sqlite:absent.db"])
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with("error: SQLite database file `absent.db` does not exist\n"));
    assert!(!dir.path().join("absent.db").exists());
}

#[test]
fn unknown_scheme_and_no_url() {
    let dir = tempfile::tempdir().unwrap();
    migrate(dir.path())
        .args(["inspect", "--url", "oracle://scott:tiger@db/x"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown scheme `oracle`").and(predicate::str::contains("tiger").not()));
    migrate(dir.path()).arg("inspect").assert().code(2).stderr(predicate::str::starts_with("error: no database URL"));
}

#[test]
fn malformed_config_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("migrate.toml"), "database_url = \"sqlite:a.db\"\nscript_locaton = \"m\"\n")
        .unwrap();
    migrate(dir.path()).arg("inspect").assert().code(2).stderr(predicate::str::contains(
        "migrate.toml:2:1: unknown key `script_locaton`; did you mean `script_location`?",
    ));
}

#[test]
fn unreachable_server_is_one_line_exit_3_without_password() {
    let dir = tempfile::tempdir().unwrap();
    for url in ["postgres://bob:hunter2@127.0.0.1:1/app", "mysql://bob:hunter2@127.0.0.1:1/app"] {
        let out = migrate(dir.path()).args(["inspect", "--url", url]).assert().code(3);
        let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(stderr.starts_with("error: cannot connect to "), "{stderr}");
        assert!(stderr.contains(":***@127.0.0.1:1/app"), "{stderr}");
        assert!(!stderr.contains("hunter2"), "{stderr}");
        // One line of error (libpq explains over two), then the hint.
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 2, "{stderr}");
        assert!(lines[1].starts_with("hint: "), "{stderr}");
    }
}

#[test]
fn wrong_password_is_refused_without_printing_it() {
    // PostgreSQL here trusts local logins, so a wrong password is shown on MariaDB,
    // and on PostgreSQL a role that does not exist is refused the same way.
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (Backend::Mysql, "mysql://root:Wr0ngPass@127.0.0.1:3306/test"),
        (Backend::Postgres, "postgres://no_such_role:Wr0ngPass@127.0.0.1:5432/test"),
    ];
    for (backend, url) in cases {
        if fresh_db(backend, "wrong_password").is_none() {
            continue;
        }
        let out = migrate(dir.path()).args(["inspect", "--url", url]).assert().code(3);
        let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(stderr.starts_with("error: cannot connect to "), "{stderr}");
        assert!(!stderr.contains("Wr0ngPass"), "{stderr}");
    }
}

#[test]
fn inspect_servers() {
    for backend in [Backend::Postgres, Backend::Mysql] {
        let Some(db) = fresh_db(backend, "cli_inspect") else { continue };
        db.connect().execute("CREATE TABLE widgets (id INTEGER NOT NULL PRIMARY KEY, label VARCHAR(20))").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = migrate(dir.path()).args(["inspect", "--json"]).env("DATABASE_URL", &db.url).assert().success();
        let json: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
        assert_eq!(json["schema"]["tables"][0]["name"], "widgets", "{backend:?}");
        assert_eq!(json["schema"]["tables"][0]["columns"][1]["type"], "varchar(20)", "{backend:?}");
    }
}

/// A distinctive part of every password below: in any spelling (raw,
/// percent-encoded, decoded) a leak contains it.
const SECRET_MARK: &str = "S3cr";
/// A password with every character that ends a part of a URL.
const SECRET: &str = "S3cr#t?/@:%zz";

/// `url` (`scheme://user@host...`) with `SECRET` as the user's password.
fn with_password(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (user, host) = rest.split_once('@').unwrap();
    format!("{scheme}://{user}:{SECRET}@{host}")
}

/// A project with one model and one revision creating its table.
fn leak_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    migrate(dir.path()).arg("init").assert().success();
    std::fs::write(
        dir.path().join("models/app.toml"),
        "[[tables]]\nname = \"things\"\ncolumns = [{ name = \"id\", type = \"integer\", nullable = false }]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("migrations/versions/r1_things.toml"),
        "revision = \"r1\"\nmessage = \"things\"\n\n[[upgrade]]\nop = \"create_table\"\nname = \"things\"\n\
         columns = [{ name = \"id\", type = \"integer\", nullable = false }]\n\n[[downgrade]]\nop = \"drop_table\"\n\
         name = \"things\"\ncolumns = [{ name = \"id\", type = \"integer\", nullable = false }]\n",
    )
    .unwrap();
    dir
}

/// Runs every command (text and `--json`) with `url` given by each of
/// `--url`, `DATABASE_URL`, `.env` and `migrate.toml`; asserts no output
/// contains the password. Returns the exit code of the first `upgrade` per source.
fn assert_never_printed(url: &str, shadow: &str) -> Vec<i32> {
    let commands: [&[&str]; 13] = [
        &["inspect"],
        &["current"],
        &["history", "-i"],
        &["upgrade"],
        &["upgrade"],
        &["check"],
        &["check", "--shadow", shadow],
        &["revision", "--autogenerate", "-m", "auto", "--rev-id", "auto1"],
        &["lint"],
        &["upgrade", "--sql"],
        &["stamp", "head"],
        &["downgrade", "base"],
        &["init", "sub"],
    ];
    let mut upgrades = Vec::new();
    for source in ["flag", "env", "dotenv", "config"] {
        let dir = leak_project();
        match source {
            "dotenv" => std::fs::write(dir.path().join(".env"), format!("DATABASE_URL='{url}'\n")).unwrap(),
            "config" => std::fs::write(dir.path().join("migrate.toml"), format!("database_url = '{url}'\n")).unwrap(),
            _ => std::fs::write(dir.path().join("migrate.toml"), "").unwrap(),
        }
        let mut first_upgrade = None;
        for json in [false, true] {
            for args in commands {
                let mut cmd = migrate(dir.path());
                cmd.args(args);
                if json {
                    cmd.arg("--json");
                }
                match source {
                    "flag" => cmd.args(["--url", url]),
                    "env" => cmd.env("DATABASE_URL", url),
                    _ => &mut cmd,
                };
                let out = cmd.output().unwrap();
                let printed = String::from_utf8_lossy(&[&out.stdout[..], &out.stderr[..]].concat()).into_owned();
                assert!(
                    !printed.contains(SECRET_MARK),
                    "{source} {args:?} json={json} printed the password:\n{printed}"
                );
                if json {
                    let parsed = serde_json::from_slice::<serde_json::Value>(&out.stdout);
                    assert!(parsed.is_ok(), "{source} {args:?}: stdout is not one JSON document:\n{printed}");
                }
                if args == ["upgrade"] && first_upgrade.is_none() {
                    first_upgrade = out.status.code();
                }
            }
        }
        upgrades.push(first_upgrade.unwrap());
    }
    upgrades
}

#[test]
fn passwords_are_never_printed() {
    let Some(db) = fresh_db(Backend::Postgres, "leak_pg") else { return };
    let Some(shadow) = fresh_db(Backend::Postgres, "leak_pg_shadow") else { return };
    // The server trusts local logins: the password is sent, and ignored.
    let url = with_password(&db.url);
    assert_eq!(assert_never_printed(&url, &with_password(&shadow.url)), [0, 0, 0, 0], "every source connects");
    let in_query = format!("{}?sslmode=disable&password=S3cret%23x", db.url);
    assert_eq!(assert_never_printed(&in_query, &with_password(&shadow.url)), [0, 0, 0, 0]);
    let failing = [
        // An unreachable server, a database that does not exist, a wrong password.
        with_password("postgres://postgres@127.0.0.1:1/app"),
        with_password("mysql://root@127.0.0.1:1/app"),
        format!("{}_no_such_db", with_password(&db.url)),
        with_password("mysql://root@127.0.0.1:3306/test"),
        // Not URLs the tool can read.
        format!("postgres:postgres:{SECRET}@127.0.0.1/db"),
        format!("host=127.0.0.1 user=postgres password={SECRET} dbname=test"),
        format!("oracle://scott:{SECRET}@h/db"),
    ];
    for url in failing {
        let codes = assert_never_printed(&url, &url);
        assert!(codes.iter().all(|c| *c == 2 || *c == 3), "{url}: {codes:?}");
    }
}

#[test]
fn a_malformed_dotenv_line_is_named_not_printed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), format!("OTHER=1\nDATABASE_URL 'postgres://u:{SECRET}@h/db\n")).unwrap();
    let out = migrate(dir.path()).arg("current").assert().code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(!stderr.contains(SECRET_MARK), "{stderr}");
    assert!(stderr.contains(".env:2: malformed line"), "{stderr}");
}

#[test]
fn help_of_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let commands = [
        "",
        "init",
        "list-templates",
        "inspect",
        "revision",
        "check",
        "lint",
        "upgrade",
        "downgrade",
        "current",
        "history",
        "heads",
        "branches",
        "show",
        "stamp",
        "merge",
        "edit",
        "models",
        "models generate",
        "models pull",
    ];
    for command in commands {
        let mut cmd = migrate(dir.path());
        cmd.args(command.split_whitespace());
        let out = cmd.arg("--help").env("COLUMNS", "100").assert().success();
        let name = if command.is_empty() { "help".to_string() } else { format!("help_{}", command.replace(' ', "_")) };
        insta::assert_snapshot!(name, String::from_utf8_lossy(&out.get_output().stdout));
    }
}

#[test]
fn models_generate_follows_declaration_order_across_reformatting() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("migrate.toml"), "database_url = \"sqlite:app.db\"\n").unwrap();
    std::fs::create_dir_all(dir.path().join("models")).unwrap();
    let write = |first: &str, second: &str| {
        std::fs::write(dir.path().join("models/a_first.toml"), first).unwrap();
        std::fs::write(dir.path().join("models/b_second.toml"), second).unwrap();
        let out = migrate(dir.path()).args(["models", "generate", "-q"]).assert().success();
        String::from_utf8(out.get_output().stdout.clone()).unwrap()
    };
    let compact = write(
        "[[tables]]\nname = \"mangos\"\ncolumns = [{ name = \"id\", type = \"integer\", primary_key = true }]\n",
        "[[tables]]\nname = \"zebras\"\ncolumns = [{ name = \"id\", type = \"integer\", primary_key = true }]\n\
         [[tables]]\nname = \"apples\"\ncolumns = [{ name = \"id\", type = \"integer\", primary_key = true }]\n",
    );
    let structs: Vec<&str> = compact.lines().filter_map(|l| l.strip_prefix("pub struct ")).collect();
    // Files in path order, tables in file order: not sorted by name.
    assert_eq!(structs, ["Mangos {", "Zebras {", "Apples {"], "{compact}");
    // The same models reformatted (comments, spacing, one key a line) generate the same file.
    let reformatted = write(
        "# fruit\n\n[[tables]]\nname = \"mangos\"\n\n[[tables.columns]]\nname = \"id\"\ntype = \"integer\"\nprimary_key = true\n",
        "[[tables]]\n  name = 'zebras'\n  columns = [\n    { name = 'id', type = 'integer', primary_key = true },\n  ]\n\n\
         # the other one\n[[tables]]\n  name = 'apples'\n  columns = [\n    { name = 'id', type = 'integer', primary_key = true },\n  ]\n",
    );
    assert_eq!(reformatted, compact);
}

#[test]
fn models_generate_writes_rust_models_and_refuses_to_clobber() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("migrate.toml"), "database_url = \"sqlite:app.db\"\n").unwrap();
    std::fs::create_dir_all(dir.path().join("models")).unwrap();
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    migrate(dir.path())
        .args(["models", "generate", "--out", "src/models.rs"])
        .assert()
        .code(2)
        .stderr("error: no model files match models/*.toml, models/*.rs\n");
    assert!(!dir.path().join("src/models.rs").exists());

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(root.join("tests/fixtures/shop.toml"), dir.path().join("models/shop.toml")).unwrap();
    let expected = std::fs::read_to_string(root.join("tests/fixtures/shop_generated.rs")).unwrap();
    migrate(dir.path())
        .args(["models", "generate", "--out", "src/models.rs"])
        .assert()
        .success()
        .stdout("wrote src/models.rs (24 models)\n");
    assert!(std::fs::read_to_string(dir.path().join("src/models.rs")).unwrap() == expected);
    // Without --out: the code on stdout, even with --quiet.
    let out = migrate(dir.path()).args(["models", "generate", "-q"]).assert().success();
    assert!(out.get_output().stdout == expected.as_bytes());

    std::fs::write(dir.path().join("src/models.rs"), "mine").unwrap();
    migrate(dir.path())
        .args(["models", "generate", "--out", "src/models.rs"])
        .assert()
        .code(2)
        .stderr("error: cannot write src/models.rs: it exists (--force overwrites it)\n");
    assert_eq!(std::fs::read_to_string(dir.path().join("src/models.rs")).unwrap(), "mine");
    migrate(dir.path()).args(["models", "generate", "--out", "src/models.rs", "--force"]).assert().success();
    assert!(std::fs::read_to_string(dir.path().join("src/models.rs")).unwrap() == expected);

    // Where the `models` globs look, it would be read back as a second copy of every table.
    let out = migrate(dir.path()).args(["models", "generate", "--out", "models/shop.rs", "--json"]).assert().code(2);
    let json: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(json["error"]["code"], "output_unwritable", "{json}");
    assert!(!dir.path().join("models/shop.rs").exists());
}

/// `models pull` on the realistic shop: the pulled models, TOML and Rust,
/// are what `migrate check` finds the database to match; pulling is
/// deterministic and does not clobber a file without `--force`.
fn models_pull_round_trips(backend: Backend) {
    let Some(db) = fresh_db(backend, "models_pull") else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("models")).unwrap();
    std::fs::create_dir_all(dir.path().join("migrations/versions")).unwrap();
    let config = format!("database_url = \"{}\"\nmodels = [\"models/*.toml\", \"models/*.rs\"]\n", db.url);
    std::fs::write(dir.path().join("migrate.toml"), config).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shop = dir.path().join("models/shop.toml");
    std::fs::copy(root.join("tests/fixtures/shop.toml"), &shop).unwrap();
    migrate(dir.path()).args(["revision", "--autogenerate", "-m", "shop", "-q"]).assert().success();
    migrate(dir.path()).args(["upgrade", "head", "-q"]).assert().success();
    std::fs::remove_file(&shop).unwrap();
    for (flag, file) in [("--toml", "models/pulled.toml"), ("--rust", "models/pulled.rs")] {
        let pull = || migrate(dir.path()).args(["models", "pull", flag]).assert().success().get_output().stdout.clone();
        let source = String::from_utf8(pull()).unwrap();
        assert_eq!(source, String::from_utf8(pull()).unwrap(), "{flag}: deterministic");
        assert!(source.contains("shipment_items"), "{source}");
        if backend == Backend::Postgres && flag == "--toml" {
            assert!(source.contains("[[enums]]\nname = \"order_status\""), "{source}");
        }
        migrate(dir.path())
            .args(["models", "pull", flag, "--out", file])
            .assert()
            .success()
            .stdout(format!("wrote {file} (24 models)\n"));
        assert_eq!(std::fs::read_to_string(dir.path().join(file)).unwrap(), source);
        migrate(dir.path()).arg("check").assert().code(0).stdout(predicate::str::contains("matches the models"));
        migrate(dir.path())
            .args(["models", "pull", flag, "--out", file])
            .assert()
            .code(2)
            .stderr(format!("error: cannot write {file}: it exists (--force overwrites it)\n"));
        migrate(dir.path()).args(["models", "pull", flag, "--out", file, "--force"]).assert().success();
        std::fs::remove_file(dir.path().join(file)).unwrap();
    }
}

#[test]
fn models_pull_round_trips_sqlite() {
    models_pull_round_trips(Backend::Sqlite);
}

#[test]
fn models_pull_round_trips_postgres() {
    models_pull_round_trips(Backend::Postgres);
}

#[test]
fn models_pull_round_trips_mysql() {
    models_pull_round_trips(Backend::Mysql);
}
