//! `revision --autogenerate`, `check` (also against a shadow database) and
//! `lint`.

use super::{NewRevision, Written, current, load_script, revision};
use crate::Error;
use crate::autogen::{self, Diff, Finding, RenameCandidate};
use crate::config::DatabaseConfig;
use crate::db::{Connection, DatabaseUrl, OpenMode};
use crate::dialect::{self, Dialect};
use crate::models::{self, Models};
use crate::schema::Schema;
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
    Ok(drift(url, database, schema, models, confirm))
}

/// The database's schema; a SQLite file not created yet is an empty one.
fn reflect(url: &DatabaseUrl, database: &DatabaseConfig) -> Result<Schema, Error> {
    let dialect = dialect::for_backend(url.backend());
    Ok(match super::open_existing(url, database)? {
        Some(mut conn) => dialect.reflect(&mut conn, &database.reflection_filter())?,
        None => Schema::default(),
    })
}

fn drift(
    url: &DatabaseUrl,
    database: &DatabaseConfig,
    schema: Schema,
    models: &Models,
    confirm: &mut dyn FnMut(&RenameCandidate) -> bool,
) -> Drift {
    let dialect = dialect::for_backend(url.backend());
    let mut filtered = models.clone();
    filtered.schema.tables.retain(|t| database.filters.matches(&t.name));
    let diff = autogen::compare(&schema, &filtered, dialect.as_ref(), confirm);
    let findings = autogen::lint(&diff.upgrade, dialect.as_ref(), &schema);
    Drift {
        database: url.to_string(),
        in_sync: diff.is_empty(),
        diff,
        findings,
        tampered: Vec::new(),
        database_schema: autogen::canonical_schema(dialect.as_ref(), &schema),
        models_schema: autogen::canonical_schema(dialect.as_ref(), &filtered.schema),
    }
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
    let mut drift = drift(url, database, schema?, &models?, &mut |_| false);
    drift.tampered = status?.tampered;
    drift.in_sync &= drift.tampered.is_empty();
    Ok(drift)
}

/// `migrate check --shadow URL`: applies every revision to the empty shadow
/// database, compares it with the models, and leaves it empty again. Finds
/// both drift and revisions that do not reproduce the models.
pub fn check_shadow(shadow: &DatabaseUrl, database: &DatabaseConfig) -> Result<Drift, Error> {
    let models = load_models(database)?;
    let dialect = dialect::for_backend(shadow.backend());
    {
        let mut conn = Connection::open(shadow, OpenMode::ReadWrite)?;
        let existing = dialect.reflect(&mut conn, &Default::default())?;
        if let Some(table) = existing.tables.first() {
            return Err(Error::Usage(format!(
                "the shadow database {shadow} is not empty (it has table `{}`): give an empty database",
                table.name
            )));
        }
    }
    let options = super::RunOptions::default();
    super::upgrade(shadow, database, "heads", &options, &mut |_| {})?;
    let drift = compare(shadow, database, &models, &mut |_| false);
    // Leave the shadow database as it was found.
    let cleanup = super::downgrade(shadow, database, "base", &options, &mut |_| {}).and_then(|_| {
        let mut conn = Connection::open(shadow, OpenMode::ReadWrite)?;
        let book = crate::runtime::Bookkeeping::new(&database.version_table);
        for table in [&book.version_table, &book.history_table] {
            conn.execute(&format!("DROP TABLE {}", dialect.quote_identifier(table)))?;
        }
        Ok(())
    });
    let drift = drift?;
    cleanup?;
    Ok(drift)
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
    Ok(Some((revision(database, new)?, drift)))
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
