//! `revision --autogenerate`, `check` (also against a shadow database) and
//! `lint`.

use super::{Endpoint, NewRevision, Written, current, load_script, open_existing, revision, status};
use crate::Error;
use crate::autogen::{self, Diff, Finding, RenameCandidate, Validator};
use crate::config::DatabaseConfig;
use crate::db::{Connection, DatabaseUrl, OpenMode};
use crate::dialect::{self, Dialect};
use crate::models::{self, Models};
use crate::ops::Op;
use crate::runtime::{Bookkeeping, render_plan};
use crate::schema::Schema;
use crate::script::{Direction, RevisionMap, Script, ScriptError, Step};
use serde::Serialize;

/// What `check` found.
#[derive(Debug, Clone, Serialize)]
pub struct Drift {
    /// The database compared, password redacted.
    pub database: String,
    /// Whether database and models agree.
    pub in_sync: bool,
    /// What would make the database match the models.
    pub diff: Diff,
    /// Risky ops among them.
    pub findings: Vec<Finding>,
    /// Applied revisions whose files changed since.
    pub tampered: Vec<String>,
    /// The database's schema, in the backend's form, as compared.
    #[serde(skip)]
    pub database_schema: Schema,
    /// The models' schema, in the backend's form, as compared.
    #[serde(skip)]
    pub models_schema: Schema,
}

/// The declared models of `database`.
pub fn load_models(database: &DatabaseConfig) -> Result<Models, Error> {
    Ok(models::load(&database.root, &database.models)?)
}

fn compare(
    url: &DatabaseUrl,
    database: &DatabaseConfig,
    models: &Models,
    confirm: &mut dyn FnMut(&RenameCandidate) -> bool,
) -> Result<Drift, Error> {
    let schema = reflect(url, database)?;
    drift(url, database, schema, models, confirm)
}

/// The database's schema; a SQLite file not created yet is an empty one.
fn reflect(url: &DatabaseUrl, database: &DatabaseConfig) -> Result<Schema, Error> {
    let dialect = dialect::for_backend(url.backend());
    Ok(match super::open_existing(url, database)? {
        Some(mut conn) => dialect.reflect(&mut conn, &database.reflection_filter())?,
        None => Schema::default(),
    })
}

/// Compares, and refuses ops that could not run (the same check as before
/// an upgrade), so that no revision is written that would fail.
fn drift(
    url: &DatabaseUrl,
    database: &DatabaseConfig,
    schema: Schema,
    models: &Models,
    confirm: &mut dyn FnMut(&RenameCandidate) -> bool,
) -> Result<Drift, Error> {
    let dialect = dialect::for_backend(url.backend());
    let mut filtered = models.clone();
    filtered.schema.tables.retain(|t| database.filters.matches(&t.name));
    let diff = autogen::compare(&schema, &filtered, dialect.as_ref(), confirm);
    let filter = database.reflection_filter();
    let unknown = |table: &str| !filter.matches(table);
    let mut validator = Validator::new(dialect.as_ref(), schema.clone(), &unknown);
    validator.ops(None, &diff.upgrade)?;
    validator.ops(None, &diff.downgrade)?;
    let findings = autogen::lint(&diff.upgrade, dialect.as_ref(), &schema);
    Ok(Drift {
        database: url.to_string(),
        in_sync: diff.is_empty(),
        diff,
        findings,
        tampered: Vec::new(),
        database_schema: autogen::canonical_schema(dialect.as_ref(), &schema),
        models_schema: autogen::canonical_schema(dialect.as_ref(), &filtered.schema),
    })
}

/// Validates the plan a run would make on an SQLite file that does not
/// exist yet, before anything opens it for writing (which would create it):
/// `plan` gets the heads of an empty database. An existing database is
/// validated under the run lock instead ([`validate_steps`]), where its
/// schema and heads cannot change while they are read.
pub(super) fn validate_run(
    url: &DatabaseUrl,
    database: &DatabaseConfig,
    script: &Script,
    plan: impl FnOnce(&[String]) -> Result<Vec<Step>, Error>,
) -> Result<(), Error> {
    if open_existing(url, database)?.is_some() {
        return Ok(());
    }
    let dialect = dialect::for_backend(url.backend());
    let steps = plan(&[])?;
    validate_steps(dialect.as_ref(), database, &script.map, &steps, Schema::default(), false)?;
    // Rendering is pure: what this backend cannot express fails here too.
    let book = Bookkeeping::new(&database.version_table);
    render_plan(dialect.as_ref(), &script.map, &book, &steps, &mut Schema::default())?;
    Ok(())
}

/// Validates `steps` in order from `schema`; `half_done` when the first may
/// have run in part (names are then not checked).
pub(super) fn validate_steps(
    dialect: &dyn Dialect,
    database: &DatabaseConfig,
    map: &RevisionMap,
    steps: &[Step],
    schema: Schema,
    half_done: bool,
) -> Result<(), Error> {
    let filter = database.reflection_filter();
    let unknown = |table: &str| !filter.matches(table);
    let mut validator = Validator::new(dialect, schema, &unknown);
    if half_done {
        validator.forget_names();
    }
    for step in steps {
        let revision = map.get(&step.revision).expect("a plan names revisions of its map");
        let ops = match step.direction {
            Direction::Up => &revision.file.upgrade,
            Direction::Down => &revision.file.downgrade,
        };
        validator.ops(Some(&step.revision), ops)?;
    }
    Ok(())
}

/// `migrate check`: whether the database matches the models (renames are
/// never assumed here: a possible one is reported). Reading the models,
/// reflecting the database and reading its version state run at once.
pub fn check(url: &DatabaseUrl, database: &DatabaseConfig) -> Result<Drift, Error> {
    let (models, schema, status) = std::thread::scope(|scope| {
        let models = scope.spawn(|| load_models(database));
        let status = scope.spawn(|| current(url, database));
        let schema = reflect(url, database);
        (models.join().expect("model loading does not panic"), schema, status.join().expect("no panic"))
    });
    let mut drift = drift(url, database, schema?, &models?, &mut |_| false)?;
    drift.tampered = status?.tampered;
    drift.in_sync &= drift.tampered.is_empty();
    Ok(drift)
}

/// Whether the database at `endpoint` matches `models` (given in code, such
/// as the compiled ones: [`crate::models::compiled`]) and the files of
/// `script` its history: `migrate check` on any endpoint and script.
pub fn check_models(
    mut endpoint: Endpoint<'_>,
    script: &Script,
    database: &DatabaseConfig,
    models: &Models,
) -> Result<Drift, Error> {
    let url = endpoint.url().clone();
    let schema = match &mut endpoint {
        Endpoint::Url(url) => reflect(url, database)?,
        Endpoint::Connection(conn) => {
            dialect::for_backend(url.backend()).reflect(conn, &database.reflection_filter())?
        }
    };
    let status = status(endpoint, script, database)?;
    let mut drift = drift(&url, database, schema, models, &mut |_| false)?;
    drift.tampered = status.tampered;
    drift.in_sync &= drift.tampered.is_empty();
    Ok(drift)
}

/// `migrate check --shadow [URL]`: applies every revision to an empty
/// shadow database, compares it with the models, and leaves it empty again,
/// also when something fails. Finds both drift and revisions that do not
/// reproduce the models. Without `shadow`, a temporary database is made
/// (SQLite: a file; servers: a uniquely named database on the server of
/// `main`) and removed afterwards.
pub fn check_shadow(
    shadow: Option<&DatabaseUrl>,
    main: Option<&DatabaseUrl>,
    database: &DatabaseConfig,
) -> Result<Drift, Error> {
    if let Some(shadow) = shadow {
        return shadow_run(shadow, database);
    }
    let main = main.ok_or_else(|| {
        Error::Usage(
            "check --shadow without a URL needs the database URL: the temporary database goes beside it".into(),
        )
    })?;
    let temporary = TemporaryDatabase::create(main)?;
    let drift = shadow_run(&temporary.url, database);
    let removed = temporary.remove();
    let drift = drift?;
    removed?;
    Ok(drift)
}

fn shadow_run(shadow: &DatabaseUrl, database: &DatabaseConfig) -> Result<Drift, Error> {
    let models = load_models(database)?;
    let dialect = dialect::for_backend(shadow.backend());
    if let Some(mut conn) = open_existing(shadow, database)? {
        let existing = dialect.reflect(&mut conn, &Default::default())?;
        if let Some(table) = existing.tables.first() {
            return Err(Error::Usage(format!(
                "the shadow database {shadow} is not empty (it has table `{}`): give an empty database",
                table.name
            )));
        }
    }
    let options = super::RunOptions::default();
    let drift = super::upgrade(shadow, database, "heads", &options, &mut |_| {})
        .and_then(|_| compare(shadow, database, &models, &mut |_| false));
    // The downgrades are checked too, when the upgrade worked; whatever
    // happened, what is left is dropped.
    let downgraded = match &drift {
        Ok(_) => super::downgrade(shadow, database, "base", &options, &mut |_| {}).map(|_| ()),
        Err(_) => Ok(()),
    };
    let emptied = empty_database(shadow, database, dialect.as_ref());
    let drift = drift?;
    downgraded?;
    emptied?;
    Ok(drift)
}

/// Drops every table (and enum type) in the database of `url`.
fn empty_database(url: &DatabaseUrl, database: &DatabaseConfig, dialect: &dyn Dialect) -> Result<(), Error> {
    let Some(_) = open_existing(url, database)? else { return Ok(()) };
    let mut conn = Connection::open(url, OpenMode::ReadWrite)?;
    let left = dialect.reflect(&mut conn, &Default::default())?;
    for statement in dialect.drop_everything(&left) {
        conn.execute(&statement)?;
    }
    Ok(())
}

/// A database made for one `check --shadow` run.
struct TemporaryDatabase {
    url: DatabaseUrl,
    /// The server database's name and the URL to drop it through; `None`
    /// for an SQLite file.
    server: Option<(String, DatabaseUrl)>,
    /// The SQLite file.
    file: Option<std::path::PathBuf>,
}

impl TemporaryDatabase {
    fn create(main: &DatabaseUrl) -> Result<TemporaryDatabase, Error> {
        let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let name = format!("migrate_shadow_{}_{}", std::process::id(), stamp % 1_000_000_000_000);
        let dialect = dialect::for_backend(main.backend());
        match (dialect.create_database(&name), main.with_database(&name)) {
            (Some(create), Some(url)) => {
                Connection::open(main, OpenMode::ReadWrite)?.execute(&create)?;
                Ok(TemporaryDatabase { url, server: Some((name, main.clone())), file: None })
            }
            _ => {
                let file = std::env::temp_dir().join(format!("{name}.db"));
                let url = DatabaseUrl::parse(&format!("sqlite://{}", file.display()))?;
                Ok(TemporaryDatabase { url, server: None, file: Some(file) })
            }
        }
    }

    fn remove(self) -> Result<(), Error> {
        if let Some((name, main)) = &self.server {
            let dialect = dialect::for_backend(main.backend());
            if let Some(drop) = dialect.drop_database(name) {
                Connection::open(main, OpenMode::ReadWrite)?.execute(&drop)?;
            }
        }
        if let Some(file) = &self.file {
            for suffix in ["", "-wal", "-shm", "-journal", ".migrate-lock"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
            }
        }
        Ok(())
    }
}

/// `migrate revision --autogenerate`: a revision with the ops that make the
/// database match the models. `None` when there is nothing to do and
/// `allow_empty` is not set. The database must be at the script's heads.
pub fn autogenerate(
    url: &DatabaseUrl,
    database: &DatabaseConfig,
    new: NewRevision,
    allow_empty: bool,
    confirm: &mut dyn FnMut(&RenameCandidate) -> bool,
) -> Result<Option<(Written, Drift)>, Error> {
    let script = load_script(database)?;
    let status = current(url, database)?;
    if !script.map.is_empty() && !status.at_heads {
        let at: Vec<&str> = status.heads.iter().map(|h| h.revision.as_str()).collect();
        return Err(Error::NotAtHead(format!(
            "the database is not up to date (at {}; the script's heads are {}): run `migrate upgrade` first",
            if at.is_empty() { "base".to_string() } else { at.join(", ") },
            script.map.heads().join(", ")
        )));
    }
    let models = load_models(database)?;
    let drift = compare(url, database, &models, confirm)?;
    if drift.diff.upgrade.is_empty() && !allow_empty {
        return Ok(None);
    }
    let new = NewRevision { upgrade: drift.diff.upgrade.clone(), downgrade: drift.diff.downgrade.clone(), ..new };
    let written = revision(database, new)?;
    let advice = safe_forms(&drift.diff.upgrade, &drift.findings);
    if !advice.is_empty() {
        let io = |action, e: std::io::Error| ScriptError::Io {
            action,
            path: written.path.display().to_string(),
            message: e.to_string(),
        };
        let text = std::fs::read_to_string(&written.path).map_err(|e| io("read", e))?;
        std::fs::write(&written.path, advice + &text).map_err(|e| io("write", e))?;
    }
    Ok(Some((written, drift)))
}

/// TOML comments, for the head of a revision file, giving the safe form of
/// each NOT NULL column added without a default to a table with rows (M009):
/// add it nullable, fill it, then make it NOT NULL.
fn safe_forms(ops: &[Op], findings: &[Finding]) -> String {
    let mut text = String::new();
    for op in ops {
        let Op::AddColumn { table, column } = op else { continue };
        if !findings.iter().any(|f| f.code == "M009" && f.op == op.label()) {
            continue;
        }
        let name = &column.name;
        text.push_str(&format!(
            "# M009: {table}.{name} is added NOT NULL without a default, which fails once {table} has rows.\n\
             # The safe form, in three ops in place of the add_column below:\n\
             #   1. the add_column with `nullable = true` in its column;\n\
             #   2. [[upgrade]] op = \"execute\", sql = \"UPDATE {table} SET {name} = ... WHERE {name} IS NULL\";\n\
             #   3. [[upgrade]] op = \"alter_column\", table = \"{table}\", column = \"{name}\", nullable = false,\n\
             #      existing = {{ the column as added in 1 }}.\n\
             # (and in [[downgrade]], the drop_column as written)\n\n"
        ));
    }
    text
}

/// `migrate lint`: the risky ops of the revisions in `range` (all when
/// `None`), as they would run on `dialect` from base.
pub fn lint_revisions(
    database: &DatabaseConfig,
    dialect: &dyn Dialect,
    range: Option<&str>,
) -> Result<Vec<Finding>, Error> {
    let script = load_script(database)?;
    let wanted: Vec<String> = script.map.history(range)?.into_iter().map(|r| r.file.revision.clone()).collect();
    let mut state = Schema::default();
    let mut findings = Vec::new();
    for step in script.map.upgrade_plan(&[], "heads")? {
        let revision = script.map.get(&step.revision).expect("plans name known revisions");
        if wanted.contains(&step.revision) {
            for mut finding in autogen::lint(&revision.file.upgrade, dialect, &state) {
                finding.revision = Some(step.revision.clone());
                findings.push(finding);
            }
        }
        for op in &revision.file.upgrade {
            let _ = state.apply(op);
        }
    }
    Ok(findings)
}
