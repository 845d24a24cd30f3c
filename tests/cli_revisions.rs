//! The revision commands as a user runs them: the real binary in a temporary
//! project, on SQLite (the servers are covered by tests/revisions.rs).

use assert_cmd::Command;
use std::path::Path;

fn migrate(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("migrate").unwrap();
    cmd.current_dir(dir).env_remove("DATABASE_URL").env("NO_COLOR", "1");
    cmd
}

fn stdout(cmd: &mut Command) -> String {
    String::from_utf8(cmd.assert().success().get_output().stdout.clone()).unwrap()
}

fn stderr_of(cmd: &mut Command, code: i32) -> String {
    String::from_utf8(cmd.assert().code(code).get_output().stderr.clone()).unwrap()
}

/// An initialised project with revisions a1 <- a2 (a2 creates a table).
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    migrate(dir.path()).arg("init").assert().success();
    // The tests declare their own models.
    std::fs::remove_file(dir.path().join("models/example.toml")).unwrap();
    migrate(dir.path()).args(["revision", "-m", "first", "--rev-id", "a1"]).assert().success();
    migrate(dir.path()).args(["revision", "-m", "create things", "--rev-id", "a2"]).assert().success();
    let path = dir.path().join("migrations/versions/a2_create_things.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let ops = r#"
[[upgrade]]
op = "create_table"
name = "things"
columns = [{ name = "id", type = "integer", nullable = false }]

[[downgrade]]
op = "drop_table"
name = "things"
columns = [{ name = "id", type = "integer", nullable = false }]
"#;
    std::fs::write(&path, text + ops).unwrap();
    dir
}

#[test]
fn revision_writes_files_on_top_of_the_head() {
    let dir = project();
    let text = std::fs::read_to_string(dir.path().join("migrations/versions/a1_first.toml")).unwrap();
    assert!(text.starts_with("revision = \"a1\"\nmessage = \"first\"\ncreated_at = "), "{text}");
    let out = stdout(migrate(dir.path()).args(["revision", "-m", "third", "--json"]));
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["down_revision"], serde_json::json!(["a2"]));
    assert_eq!(json["revision"].as_str().unwrap().len(), 12);
    // Ids are validated and unique.
    let e = stderr_of(migrate(dir.path()).args(["revision", "-m", "x", "--rev-id", "a:b"]), 2);
    assert!(e.starts_with("error: invalid revision id `a:b`"), "{e}");
    let e = stderr_of(migrate(dir.path()).args(["revision", "-m", "x", "--rev-id", "a1", "--head", "base"]), 2);
    assert_eq!(e, "error: revision id a1 already exists\n");
    // Not on top of a non-head without --splice.
    let e = stderr_of(migrate(dir.path()).args(["revision", "-m", "x", "--head", "a1"]), 2);
    assert!(e.contains("a1 is not a head; pass --splice"), "{e}");
}

#[test]
fn branches_heads_merge_and_history() {
    let dir = project();
    migrate(dir.path())
        .args(["revision", "-m", "side", "--rev-id", "b1", "--head", "a1", "--splice", "--branch-label", "side"])
        .assert()
        .success();
    assert_eq!(stdout(migrate(dir.path()).arg("heads")), "a1 -> a2 (head), create things\na1 -> b1 (head), side\n");
    assert_eq!(stdout(migrate(dir.path()).arg("branches")), "<base> -> a1 (branchpoint), first\n");
    let e = stderr_of(migrate(dir.path()).arg("upgrade"), 2);
    assert!(e.starts_with("error: multiple heads (a2, b1)"), "{e}");
    migrate(dir.path()).args(["upgrade", "side@head"]).assert().success();
    assert!(stdout(migrate(dir.path()).arg("current")).contains("b1 (head) side"));
    migrate(dir.path()).args(["merge", "heads", "-m", "join", "--rev-id", "m1"]).assert().success();
    assert_eq!(stdout(migrate(dir.path()).arg("heads")), "a2, b1 -> m1 (head, mergepoint), join\n");
    migrate(dir.path()).args(["upgrade", "head"]).assert().success();
    let history = stdout(migrate(dir.path()).args(["history", "-i"]));
    assert_eq!(
        history,
        "a2, b1 -> m1 (head, mergepoint, current), join\na1 -> b1, side\na1 -> a2, create things\n\
         <base> -> a1 (branchpoint), first\n"
    );
    let json: serde_json::Value =
        serde_json::from_str(&stdout(migrate(dir.path()).args(["history", "-r", "a2:", "--json"]))).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
    let shown = stdout(migrate(dir.path()).args(["show", "a2"]));
    assert!(shown.contains("op = \"create_table\""), "{shown}");
    migrate(dir.path()).args(["current", "--check-heads"]).assert().code(0);
    migrate(dir.path()).args(["downgrade", "a1"]).assert().success();
    migrate(dir.path()).args(["current", "--check-heads"]).assert().code(1);
}

#[test]
fn upgrade_prints_and_offline_sql_needs_no_database() {
    let dir = project();
    let out = stdout(migrate(dir.path()).args(["upgrade", "--sql"]));
    assert!(out.contains("CREATE TABLE \"things\" (\n    \"id\" INTEGER NOT NULL\n);"), "{out}");
    assert!(out.contains("INSERT INTO \"migrate_version\" (\"version_num\") VALUES ('a1');"), "{out}");
    assert!(!dir.path().join("app.db").exists(), "offline mode touches no database");
    let pg = stdout(migrate(dir.path()).args(["upgrade", "a1:a2", "--sql", "--dialect", "postgresql"]));
    assert!(pg.contains("CREATE TABLE \"things\" (\n    \"id\" integer NOT NULL\n);"), "{pg}");
    assert!(pg.contains("UPDATE \"migrate_version\" SET \"version_num\" = 'a2' WHERE (\"version_num\" = 'a1');"));
    let e = stderr_of(migrate(dir.path()).args(["downgrade", "a1", "--sql"]), 2);
    assert!(e.starts_with("error: downgrade --sql needs a range FROM:TO (e.g. head:a1)"), "{e}");
    let e = stderr_of(migrate(dir.path()).args(["upgrade", "--sql", "--dialect", "oracle"]), 2);
    assert_eq!(e, "error: unknown dialect `oracle` (postgresql, mysql, sqlite)\n");
    let out = stdout(migrate(dir.path()).arg("upgrade"));
    assert!(out.starts_with("upgraded 2 revisions in ") && out.ends_with(" ms; the database is at a2\n"), "{out}");
    // Relative targets as Alembic users type them: `downgrade -1`, `upgrade +1`.
    let out = stdout(migrate(dir.path()).args(["downgrade", "-1"]));
    assert!(out.ends_with(" ms; the database is at a1\n"), "{out}");
    let out = stdout(migrate(dir.path()).args(["upgrade", "+1"]));
    assert!(out.ends_with(" ms; the database is at a2\n"), "{out}");
}

#[test]
fn errors_in_revision_files_name_the_file() {
    let dir = project();
    let versions = dir.path().join("migrations/versions");
    std::fs::write(versions.join("c1_cycle.toml"), "revision = \"c1\"\ndown_revision = \"c2\"\nmessage = \"x\"\n")
        .unwrap();
    std::fs::write(versions.join("c2_cycle.toml"), "revision = \"c2\"\ndown_revision = \"c1\"\nmessage = \"x\"\n")
        .unwrap();
    let e = stderr_of(migrate(dir.path()).arg("heads"), 2);
    assert!(e.starts_with("error: cycle in the revision graph through c"), "{e}");
    std::fs::write(versions.join("c2_cycle.toml"), "revision = \"c2\"\ndown_revision = \"zz\"\nmessage = \"x\"\n")
        .unwrap();
    let e = stderr_of(migrate(dir.path()).arg("history"), 2);
    assert!(e.ends_with("c2_cycle.toml: down_revision zz does not exist\n"), "{e}");
    std::fs::write(versions.join("c2_cycle.toml"), "revision = \"a1\"\nmessage = \"x\"\n").unwrap();
    let e = stderr_of(migrate(dir.path()).arg("history"), 2);
    assert!(e.starts_with("error: duplicate revision id a1 in "), "{e}");
    // An id written by hand follows the `--rev-id` rule: `a:b` would read as a range.
    std::fs::write(versions.join("c2_cycle.toml"), "message = \"x\"\nrevision = \"a:b\"\n").unwrap();
    let e = stderr_of(migrate(dir.path()).arg("heads"), 2);
    assert!(e.contains("c2_cycle.toml:2: invalid revision id `a:b`"), "{e}");
}

#[test]
fn stamp_and_edit() {
    let dir = project();
    assert_eq!(stdout(migrate(dir.path()).args(["stamp", "head"])), "stamped; the database is at a2\n");
    assert_eq!(stdout(migrate(dir.path()).args(["upgrade"])), "nothing to do: the database is already there\n");
    assert_eq!(stdout(migrate(dir.path()).args(["stamp", "base", "--purge"])), "stamped; the database is at base\n");
    // `edit` opens the file in $EDITOR.
    let out = migrate(dir.path()).args(["edit", "a2"]).env("EDITOR", "true").env_remove("VISUAL").assert();
    out.success();
    let out = migrate(dir.path()).args(["edit", "a2", "--json"]).env("EDITOR", "true").env_remove("VISUAL").assert();
    let json: serde_json::Value = serde_json::from_slice(&out.success().get_output().stdout).unwrap();
    assert_eq!(json["editor_succeeded"], true, "{json}");
    assert!(json["path"].as_str().unwrap().ends_with("a2_create_things.toml"), "{json}");
    let e = stderr_of(migrate(dir.path()).args(["edit", "a2"]).env_remove("EDITOR").env_remove("VISUAL"), 2);
    assert!(e.starts_with("error: set EDITOR to open "), "{e}");
}

const MODELS: &str = r#"
[[tables]]
name = "users"
columns = [
    { name = "id", type = "bigint", primary_key = true, autoincrement = true },
    { name = "email", type = "varchar(255)", nullable = false },
    { name = "fullname", type = "text" },
]
"#;

#[test]
fn autogenerate_check_and_lint() {
    let dir = tempfile::tempdir().unwrap();
    migrate(dir.path()).arg("init").assert().success();
    std::fs::write(dir.path().join("models/app.toml"), MODELS).unwrap();
    // A fresh SQLite project: the database does not exist yet and is empty.
    migrate(dir.path()).arg("check").assert().code(1);
    let out = stdout(migrate(dir.path()).args(["revision", "--autogenerate", "-m", "users", "--rev-id", "u1"]));
    assert!(out.contains("create_table users"), "{out}");
    // The file says what the models declare, not SQLite's reading of it
    // (an autoincrement key is an `integer` there), so it is right on any backend.
    let file = std::fs::read_to_string(dir.path().join("migrations/versions/u1_users.toml")).unwrap();
    assert!(file.contains(r#"{ name = "id", type = "bigint", nullable = false, autoincrement = true }"#), "{file}");
    migrate(dir.path()).arg("upgrade").assert().success();
    assert!(stdout(migrate(dir.path()).arg("check")).ends_with("the database matches the models\n"));
    assert_eq!(
        stdout(migrate(dir.path()).args(["revision", "--autogenerate", "-m", "again"])),
        "no changes detected: nothing written\n"
    );
    // A rename without a hint: drop and add, with a warning naming the hint.
    std::fs::write(dir.path().join("models/app.toml"), MODELS.replace("fullname", "name")).unwrap();
    let out = migrate(dir.path()).arg("check").assert().code(1);
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(text.contains("add_column users.name") && text.contains("drop_column users.fullname"), "{text}");
    assert!(text.contains("-  fullname  text"), "{text}");
    // The diff compares what the backend keeps: the key is no false difference.
    assert!(!text.contains("+  id"), "{text}");
    let out = migrate(dir.path()).args(["check", "--json"]).assert().code(1);
    let json: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(json["in_sync"], false);
    assert_eq!(json["diff"]["possible_renames"][0]["to"], "name");
    let out =
        migrate(dir.path()).args(["revision", "--autogenerate", "-m", "rename", "--rev-id", "u2"]).assert().success();
    let printed = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(printed.contains("M002 error: dropping users.fullname loses its values"), "{printed}");
    let warning = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(warning.contains("warning: dropped users.fullname and added users.name of the same shape"), "{warning}");
    assert!(warning.contains("renamed_from = \"fullname\""), "{warning}");
    // lint: the drop is flagged; --error-on error makes it fail.
    let lint = stdout(migrate(dir.path()).arg("lint"));
    assert!(lint.contains("u2: M002 error: dropping users.fullname loses its values"), "{lint}");
    migrate(dir.path()).args(["lint", "--error-on", "error"]).assert().code(1);
    migrate(dir.path()).args(["lint", "-r", "u1:u1", "--error-on", "warning"]).assert().code(0);
    // The database must be at head before autogenerating.
    let e = stderr_of(migrate(dir.path()).args(["revision", "--autogenerate", "-m", "x"]), 1);
    assert!(e.starts_with("error: the database is not up to date (at u1; the script's heads are u2)"), "{e}");
    // An error in a model file names the file and line.
    std::fs::write(dir.path().join("models/app.toml"), MODELS.replace("\"text\"", "\"txt\"")).unwrap();
    let e = stderr_of(migrate(dir.path()).arg("check"), 2);
    assert!(e.contains("models/app.toml:7: column `fullname`: unknown type `txt`"), "{e}");
}

/// Runs `migrate ARGS` in `dir` under a pseudo-terminal (util-linux
/// `script`), as a user at a terminal would; returns what it printed.
fn on_a_terminal(dir: &Path, args: &str) -> String {
    let command = format!("{} {args}", env!("CARGO_BIN_EXE_migrate"));
    let out = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("util-linux `script` runs commands on a pseudo-terminal");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn progress_is_shown_on_a_terminal_only() {
    let dir = project();
    // On a terminal: a bar over the revisions and one timed line per revision.
    let shown = on_a_terminal(dir.path(), "upgrade");
    assert!(shown.contains("upgraded to a1 first (") && shown.contains("upgraded to a2 create things ("), "{shown}");
    assert!(shown.contains("1/2"), "{shown}");
    let shown = on_a_terminal(dir.path(), "downgrade base");
    assert!(shown.contains("downgraded from a2 create things ("), "{shown}");
    // Not with --quiet, and not when the output is not a terminal.
    let quiet = on_a_terminal(dir.path(), "upgrade -q");
    assert!(!quiet.contains("upgraded to") && !quiet.contains("1/2"), "{quiet}");
    migrate(dir.path()).arg("downgrade").arg("base").assert().success();
    let out = migrate(dir.path()).arg("upgrade").assert().success();
    let printed = [&out.get_output().stdout[..], &out.get_output().stderr[..]].concat();
    let printed = String::from_utf8_lossy(&printed);
    assert!(!printed.contains("upgraded to") && !printed.contains("1/2"), "{printed}");
}

#[test]
fn sqlite_reads_wait_for_a_running_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    migrate(dir.path()).arg("init").assert().success();
    let versions = dir.path().join("migrations/versions");
    for i in 1..=300 {
        let parent = if i > 1 { format!("down_revision = \"s{:03}\"\n", i - 1) } else { String::new() };
        let table =
            format!("name = \"t{i:03}\"\ncolumns = [{{ name = \"id\", type = \"integer\", nullable = false }}]\n");
        let text = format!(
            "revision = \"s{i:03}\"\n{parent}message = \"t{i}\"\n\n[[upgrade]]\nop = \"create_table\"\n{table}\n\
             [[upgrade]]\nop = \"bulk_insert\"\ntable = \"t{i:03}\"\nrows = [{{ id = 1 }}]\n\n\
             [[downgrade]]\nop = \"drop_table\"\n{table}"
        );
        std::fs::write(versions.join(format!("s{i:03}_t.toml")), text).unwrap();
    }
    migrate(dir.path()).args(["upgrade", "s001"]).assert().success();
    let mut upgrade = std::process::Command::new(env!("CARGO_BIN_EXE_migrate"))
        .args(["upgrade", "head", "-q"])
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The upgrade is inside a write transaction while its rollback journal
    // exists (SQLite deletes it at each commit): the reads start then, so
    // they meet the writer whatever the machine's load, and must wait for
    // it rather than fail "database is locked". Counting reads that happen
    // to fit into the upgrade's run time proved nothing under load: the
    // first ones could run before the upgrade began writing.
    let journal = dir.path().join("app.db-journal");
    let mut reads = Vec::new();
    while reads.is_empty() && upgrade.try_wait().unwrap().is_none() {
        if journal.exists() {
            reads = ["current", "inspect"]
                .into_iter()
                .map(|command| {
                    let read = std::process::Command::new(env!("CARGO_BIN_EXE_migrate"))
                        .arg(command)
                        .current_dir(dir.path())
                        .env_remove("DATABASE_URL")
                        .stdout(std::process::Stdio::piped())
                        .stderr(std::process::Stdio::piped())
                        .spawn()
                        .unwrap();
                    (command, read)
                })
                .collect();
        }
    }
    assert!(!reads.is_empty(), "the upgrade ended before it was seen writing");
    for (command, read) in reads {
        let out = read.wait_with_output().unwrap();
        assert!(out.status.success(), "{command}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let out = upgrade.wait_with_output().unwrap();
    assert!(out.status.success(), "upgrade: {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout(migrate(dir.path()).arg("current")).contains("s300"));
}

/// The JSON printed by `migrate ARGS --json` in `dir`, with what changes
/// from run to run (times, dates, the temporary folder) replaced.
fn json_of(dir: &Path, args: &[&str], code: i32) -> serde_json::Value {
    let out = migrate(dir).args(args).arg("--json").assert().code(code);
    let stdout = out.get_output().stdout.clone();
    let mut json: serde_json::Value = serde_json::from_slice(&stdout)
        .unwrap_or_else(|e| panic!("{args:?}: not one JSON document ({e}):\n{}", String::from_utf8_lossy(&stdout)));
    let root = dir.canonicalize().unwrap().display().to_string();
    let tmp = dir.display().to_string();
    normalise(&mut json, &[&root, &tmp]);
    json
}

fn normalise(value: &mut serde_json::Value, roots: &[&str]) {
    match value {
        serde_json::Value::String(s) => {
            for root in roots {
                *s = s.replace(root, "[dir]");
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| normalise(v, roots)),
        serde_json::Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if ["elapsed_ms", "created_at", "started_at", "finished_at"].contains(&key.as_str()) && !v.is_null() {
                    *v = serde_json::Value::String(format!("[{key}]"));
                } else {
                    normalise(v, roots);
                }
            }
        }
        _ => {}
    }
}

#[test]
fn json_of_every_command() {
    let dir = project();
    let d = dir.path();
    insta::assert_json_snapshot!("json_list_templates", json_of(d, &["list-templates"], 0));
    insta::assert_json_snapshot!("json_init", json_of(d, &["init", "sub"], 0));
    insta::assert_json_snapshot!("json_error_init", json_of(d, &["init", "sub"], 2));
    insta::assert_json_snapshot!("json_heads", json_of(d, &["heads"], 0));
    insta::assert_json_snapshot!("json_branches", json_of(d, &["branches"], 0));
    insta::assert_json_snapshot!("json_history", json_of(d, &["history"], 0));
    insta::assert_json_snapshot!("json_show", json_of(d, &["show", "a2"], 0));
    insta::assert_json_snapshot!("json_upgrade_sql", json_of(d, &["upgrade", "a1:a2", "--sql"], 0));
    insta::assert_json_snapshot!("json_current_base", json_of(d, &["current"], 0));
    insta::assert_json_snapshot!("json_upgrade", json_of(d, &["upgrade"], 0));
    // A run with nothing to do still says where the database is.
    insta::assert_json_snapshot!("json_upgrade_noop", json_of(d, &["upgrade"], 0));
    insta::assert_json_snapshot!("json_history_current", json_of(d, &["history", "-i"], 0));
    insta::assert_json_snapshot!("json_current", json_of(d, &["current"], 0));
    insta::assert_json_snapshot!("json_downgrade", json_of(d, &["downgrade", "a1"], 0));
    insta::assert_json_snapshot!("json_stamp", json_of(d, &["stamp", "head"], 0));
    insta::assert_json_snapshot!("json_revision", json_of(d, &["revision", "-m", "third", "--rev-id", "a3"], 0));
    insta::assert_json_snapshot!(
        "json_merge",
        json_of(d, &["revision", "-m", "side", "--rev-id", "b1", "--head", "a1", "--splice"], 0)
    );
    insta::assert_json_snapshot!(
        "json_merge_heads",
        json_of(d, &["merge", "heads", "-m", "join", "--rev-id", "m1"], 0)
    );
    insta::assert_json_snapshot!("json_lint", json_of(d, &["lint"], 0));
    migrate(d).arg("upgrade").assert().success();
    std::fs::write(d.join("models/app.toml"), MODELS).unwrap();
    insta::assert_json_snapshot!("json_check_drift", json_of(d, &["check"], 1));
    insta::assert_json_snapshot!(
        "json_autogenerate",
        json_of(d, &["revision", "--autogenerate", "-m", "users", "--rev-id", "u1"], 0)
    );
    migrate(d).arg("upgrade").assert().success();
    insta::assert_json_snapshot!("json_check_in_sync", json_of(d, &["check"], 0));
    insta::assert_json_snapshot!(
        "json_autogenerate_no_changes",
        json_of(d, &["revision", "--autogenerate", "-m", "x"], 0)
    );
    // Errors are the one JSON document too, on stdout, with a stable code.
    insta::assert_json_snapshot!("json_error_unknown_revision", json_of(d, &["show", "zzzz"], 2));
    insta::assert_json_snapshot!("json_error_usage", json_of(d, &["upgrade", "--no-such-flag"], 2));
    std::fs::write(d.join("models/app.toml"), MODELS.replace("nullable = false", "nulable = false")).unwrap();
    insta::assert_json_snapshot!("json_error_in_a_file", json_of(d, &["check"], 2));
    let e = stderr_of(migrate(d).args(["check", "--json"]), 2);
    assert_eq!(e, "", "with --json, errors go to stdout only");
}

/// A revision file whose upgrade is `ops`, on top of a2.
fn revision_with(dir: &Path, ops: &str) -> std::path::PathBuf {
    let path = dir.join("migrations/versions/t1_typo.toml");
    std::fs::write(&path, format!("revision = \"t1\"\ndown_revision = \"a2\"\nmessage = \"typo\"\n{ops}")).unwrap();
    path
}

#[test]
fn typos_in_revision_files_are_errors_with_a_suggestion() {
    let dir = project();
    let cases = [
        (
            "\n[[upgrade]]\nop = \"add_column\"\ntable = \"things\"\n\
             column = { name = \"qty\", type = \"integer\", nulable = false, defualt = \"5\" }\n",
            "t1_typo.toml:5: unknown key `nulable`; did you mean `nullable`?",
        ),
        (
            "\n[[upgrade]]\nop = \"create_table\"\nname = \"items\"\ncolumns = [{ name = \"id\", type = \"integer\" }]\n\
             indexs = [{ name = \"ix\", keys = [{ column = \"id\" }] }]\n",
            "unknown key `indexs`; did you mean `indexes`?",
        ),
        (
            "\n[[upgrade]]\nop = \"create_index\"\ntable = \"things\"\n\
             index = { name = \"ix\", keys = [{ column = \"id\" }], uniqe = true }\n",
            "unknown key `uniqe`; did you mean `unique`?",
        ),
        ("\n[[upgrade]]\nop = \"add_colum\"\n", "unknown value `add_colum`; did you mean `add_column`?"),
        (
            "\n[[upgrade]]\nop = \"execute\"\ndialects = { sqlite3 = \"SELECT 1\" }\n",
            "unknown value `sqlite3`; did you mean `sqlite`?",
        ),
        ("mesage = \"x\"\n", "t1_typo.toml:4: unknown key `mesage`; did you mean `message`?"),
    ];
    for (ops, expected) in cases {
        revision_with(dir.path(), ops);
        let e = stderr_of(migrate(dir.path()).arg("upgrade"), 2);
        assert!(e.contains(expected), "{ops}\n{e}");
        assert!(e.contains("t1_typo.toml:"), "names the file and line: {e}");
    }
    assert!(!dir.path().join("app.db").exists(), "nothing ran");
}

#[test]
fn execute_keys_and_sql_for_the_running_backend() {
    let dir = project();
    // The aliases the CLI accepts name the same backends.
    revision_with(
        dir.path(),
        "\n[[upgrade]]\nop = \"execute\"\ndialects = { postgres = \"SELECT 1\", mariadb = \"SELECT 2\" }\n",
    );
    let sql = stdout(migrate(dir.path()).args(["upgrade", "a2:t1", "--sql", "--dialect", "postgresql"]));
    assert!(sql.contains("SELECT 1;"), "{sql}");
    // No SQL for SQLite: an error before anything runs, nothing applied.
    let e = stderr_of(migrate(dir.path()).arg("upgrade"), 2);
    assert!(e.contains("execute") && e.contains("no SQL for this backend"), "{e}");
    assert!(e.contains("revision t1 (") && e.contains("t1_typo.toml"), "the error names the revision: {e}");
    assert!(!dir.path().join("app.db").exists(), "not even the SQLite file is created");
    let current = stdout(migrate(dir.path()).arg("current"));
    assert!(current.contains("base: no revision applied"), "{current}");
}

#[test]
fn stray_files_in_versions_are_reported() {
    let dir = project();
    let versions = dir.path().join("migrations/versions");
    // Dotfiles, backups and a README are left alone.
    for name in [".a2.toml.swp", "a2_create_things.toml~", "README.md", ".gitkeep", "old.toml.bak"] {
        std::fs::write(versions.join(name), "junk").unwrap();
    }
    migrate(dir.path()).arg("heads").assert().success();
    // A revision saved under the wrong name is not ignored.
    std::fs::write(versions.join("a3_more.tml"), "revision = \"a3\"\n").unwrap();
    let e = stderr_of(migrate(dir.path()).arg("heads"), 2);
    assert!(e.contains("a3_more.tml: not a revision file: revision files end in `.toml`"), "{e}");
}

#[test]
fn invalid_settings_are_errors() {
    let dir = project();
    let cases = [
        ("lock_timeout = -5\n", "migrate.toml:1:16: lock_timeout must be 0 or more seconds, not -5"),
        ("lock_lease = 1\n", "migrate.toml:1:14: lock_lease must be 3 seconds or more, not 1"),
        ("busy_timeout = -1\n", "migrate.toml:1:16: busy_timeout must be 0 or more seconds, not -1"),
        ("version_table = \"\"\n", "migrate.toml:1:17: version_table ``: use a letter"),
        ("version_table = \"my table\"\n", "version_table `my table`"),
        ("script_location = \"\"\n", "migrate.toml:1:19: an empty path or pattern"),
        ("database_url = \"sqlite:\"\n", "migrate.toml:1:16: invalid database URL"),
        ("lock_timout = 5\n", "migrate.toml:1:1: unknown key `lock_timout`; did you mean `lock_timeout`?"),
        ("[databases.\"a b\"]\n", "database name `a b`"),
    ];
    for (text, expected) in cases {
        std::fs::write(dir.path().join("migrate.toml"), text).unwrap();
        let e = stderr_of(migrate(dir.path()).arg("heads"), 2);
        assert!(e.contains(expected), "{text}: {e}");
    }
}

#[test]
fn each_named_database_has_its_own_url() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    migrate(d).args(["init", "--template", "multidb"]).assert().success();
    migrate(d).args(["-n", "analytics", "revision", "-m", "events", "--rev-id", "e1"]).assert().success();
    let path = d.join("migrations/analytics/versions/e1_events.toml");
    let ops =
        "\n[[upgrade]]\nop = \"create_table\"\nname = \"events\"\ncolumns = [{ name = \"id\", type = \"integer\" }]\n";
    std::fs::write(&path, std::fs::read_to_string(&path).unwrap() + ops).unwrap();
    // DATABASE_URL is the default database's: it never redirects a named one.
    migrate(d).args(["-n", "analytics", "upgrade"]).env("DATABASE_URL", "sqlite:other.db").assert().success();
    assert!(d.join("analytics.db").exists() && !d.join("other.db").exists());
    // DATABASE_URL_<NAME> (upper case, `-` as `_`) is.
    migrate(d).args(["-n", "analytics", "upgrade"]).env("DATABASE_URL_ANALYTICS", "sqlite:an2.db").assert().success();
    assert!(d.join("an2.db").exists());
    std::fs::write(d.join(".env"), "DATABASE_URL_ANALYTICS=sqlite:an3.db\n").unwrap();
    migrate(d).args(["-n", "analytics", "upgrade"]).assert().success();
    assert!(d.join("an3.db").exists());
    // A named database without a URL does not borrow the top-level one.
    std::fs::write(
        d.join("migrate.toml"),
        "database_url = \"sqlite:main.db\"\n[databases.analytics]\nscript_location = \"migrations/analytics\"\n",
    )
    .unwrap();
    std::fs::remove_file(d.join(".env")).unwrap();
    let e = stderr_of(migrate(d).args(["-n", "analytics", "current"]), 2);
    assert!(e.contains("no URL for database `analytics`") && e.contains("DATABASE_URL_ANALYTICS"), "{e}");
}
