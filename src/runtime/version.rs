//! The tool's own tables: the version table (one row per current head, as
//! Alembic keeps it) and the history table (one row per step ever run).

use super::RuntimeError;
use crate::db::Connection;
use crate::dialect::{Dialect, RunLockKind};
use crate::ops::{Op, Value};
use crate::schema::{Column, ColumnType, DefaultValue, NameFilter, PrimaryKey, Table};

text_row!(VersionRow { version_num });
text_row!(HistoryRow {
    id,
    revision,
    direction,
    checksum,
    started_at,
    finished_at,
    outcome,
    ops_done,
    statements_done,
    failed_op,
    error,
    uncertain,
    source
});
// A history table made before `uncertain` and `source` existed, read as it is.
text_row!(OldHistoryRow {
    id,
    revision,
    direction,
    checksum,
    started_at,
    finished_at,
    outcome,
    ops_done,
    statements_done,
    failed_op,
    error
});

/// Columns of the history table, in the order `tables` defines them.
const HISTORY_COLUMNS: [&str; 13] = [
    "id",
    "revision",
    "direction",
    "checksum",
    "started_at",
    "finished_at",
    "outcome",
    "ops_done",
    "statements_done",
    "failed_op",
    "error",
    "uncertain",
    "source",
];

/// Names of the version, history and lock tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bookkeeping {
    /// One row per current head.
    pub version_table: String,
    /// Every step run: `<version table>_history`.
    pub history_table: String,
    /// The run lock's holder, one row: `<version table>_lock`.
    pub lock_table: String,
}

/// One row of the history table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HistoryEntry {
    /// Increasing with time.
    pub id: i64,
    /// The revision run.
    pub revision: String,
    /// `up`, `down`, `stamp`/`unstamp` (recorded as applied or not without
    /// running), `accept` (a changed file's new checksum, accepted on
    /// purpose) or `settle` (a partly applied step settled by `stamp`).
    pub direction: String,
    /// Checksum of the revision file when it ran.
    pub checksum: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// RFC 3339, UTC; none while running or after a crash.
    pub finished_at: Option<String>,
    /// `running`, `ok` or `failed`.
    pub outcome: String,
    /// Ops of the revision completed (what stays applied after a failure
    /// where DDL is not transactional).
    pub ops_done: usize,
    /// Statements of the op after those that completed before it failed
    /// (an op can take several statements).
    pub statements_done: usize,
    /// The op that failed, as `Op::label` names it.
    pub failed_op: Option<String>,
    /// The database's error.
    pub error: Option<String>,
    /// Statement `statements_done` of op `ops_done` was started but not
    /// recorded as finished: a crash during DDL the server may have completed.
    pub uncertain: bool,
    /// The revision file's text when it was applied, to show what an edit
    /// changed (absent in rows written before it was recorded).
    #[serde(skip)]
    pub source: Option<String>,
}

impl Bookkeeping {
    /// The tables for a version table called `version_table`.
    pub fn new(version_table: &str) -> Self {
        Bookkeeping {
            version_table: version_table.to_string(),
            history_table: format!("{version_table}_history"),
            lock_table: format!("{version_table}_lock"),
        }
    }

    /// Definitions of both tables.
    pub fn tables(&self) -> [Table; 2] {
        let text = |n: u32| ColumnType::Varchar { length: Some(n) };
        let mut version = Table::new(&self.version_table);
        version.columns = vec![Column::new("version_num", text(32)).not_null()];
        version.primary_key = Some(PrimaryKey { name: None, columns: vec!["version_num".into()] });
        let mut history = Table::new(&self.history_table);
        history.columns = vec![
            Column::new("id", ColumnType::Integer).not_null().autoincrement(),
            Column::new("revision", text(32)).not_null(),
            Column::new("direction", text(8)).not_null(),
            Column::new("checksum", text(64)).not_null(),
            Column::new("started_at", text(40)).not_null(),
            Column::new("finished_at", text(40)),
            Column::new("outcome", text(16)).not_null(),
            Column::new("ops_done", ColumnType::Integer).not_null().default(DefaultValue::Number("0".into())),
            Column::new("statements_done", ColumnType::Integer).not_null().default(DefaultValue::Number("0".into())),
            Column::new("failed_op", text(255)),
            Column::new("error", ColumnType::Text),
        ];
        history.columns.extend(Self::added_history_columns());
        history.primary_key = Some(PrimaryKey { name: None, columns: vec!["id".into()] });
        [version, history]
    }

    /// The lock table: who holds the run lock (host, pid, since when, the
    /// revision being applied) and, where the row is the lock, its lease.
    pub fn lock_table(&self) -> Table {
        let text = |n: u32| ColumnType::Varchar { length: Some(n) };
        let mut lock = Table::new(&self.lock_table);
        lock.columns = vec![
            Column::new("id", ColumnType::Integer).not_null(),
            Column::new("holder", text(128)),
            Column::new("host", text(255)),
            Column::new("pid", ColumnType::Integer),
            Column::new("acquired_at", ColumnType::Timestamp),
            Column::new("expires_at", ColumnType::Timestamp),
            Column::new("revision", text(32)),
            Column::new("direction", text(8)),
        ];
        lock.primary_key = Some(PrimaryKey { name: None, columns: vec!["id".into()] });
        lock
    }

    /// Which of the tables exist: (version, history, lock).
    fn existing(&self, conn: &mut Connection, dialect: &dyn Dialect) -> Result<(bool, bool, bool), RuntimeError> {
        let include = vec![self.version_table.clone(), self.history_table.clone(), self.lock_table.clone()];
        let schema = dialect.reflect(conn, &NameFilter { include, exclude: vec![] })?;
        let has = |name: &str| schema.table(name).is_some();
        Ok((has(&self.version_table), has(&self.history_table), has(&self.lock_table)))
    }

    /// Whether the lock table exists.
    pub fn has_lock_table(&self, conn: &mut Connection, dialect: &dyn Dialect) -> Result<bool, RuntimeError> {
        Ok(self.existing(conn, dialect)?.2)
    }

    /// Statements creating whichever of the tables does not exist yet
    /// (`IF NOT EXISTS`: two runs may get here at once on a cluster); the
    /// lock table where a server lock needs one.
    pub fn create_missing(&self, conn: &mut Connection, dialect: &dyn Dialect) -> Result<Vec<String>, RuntimeError> {
        let (version, history, lock) = self.existing(conn, dialect)?;
        let [version_table, history_table] = self.tables();
        let mut statements = Vec::new();
        if !version {
            statements.extend(dialect.create_table_if_missing(&version_table));
        }
        if !history {
            statements.extend(dialect.create_table_if_missing(&history_table));
        }
        if !lock && dialect.run_lock(&self.version_table, false) != RunLockKind::File {
            statements.extend(dialect.create_table_if_missing(&self.lock_table()));
        }
        Ok(statements)
    }

    /// Runs a step's version-table statements, each compare-and-set: an
    /// `UPDATE` or `DELETE` names the head it expects and must change
    /// exactly one row (an `INSERT` of a head relies on the primary key).
    /// The caller rolls back on an error.
    pub fn apply_version(
        &self,
        conn: &mut Connection,
        revision: &str,
        statements: &[String],
    ) -> Result<(), RuntimeError> {
        for statement in statements {
            let rows = conn.execute_count(statement)?;
            if rows != 1 {
                return Err(RuntimeError::VersionConflict {
                    revision: revision.to_string(),
                    statement: statement.clone(),
                    rows,
                });
            }
        }
        Ok(())
    }

    /// The current heads (empty when the version table does not exist: base).
    pub fn heads(&self, conn: &mut Connection, dialect: &dyn Dialect) -> Result<Vec<String>, RuntimeError> {
        if !self.existing(conn, dialect)?.0 {
            return Ok(Vec::new());
        }
        self.read_heads(conn, dialect)
    }

    /// The current heads, the version table known to exist.
    pub fn read_heads(&self, conn: &mut Connection, dialect: &dyn Dialect) -> Result<Vec<String>, RuntimeError> {
        let rows: Vec<VersionRow> =
            conn.load(&dialect.select_text_sql(&self.version_table, &["version_num"], "version_num"))?;
        Ok(rows.into_iter().filter_map(|r| r.version_num).collect())
    }

    /// History columns added after the table's first version, which older
    /// tables lack.
    fn added_history_columns() -> [Column; 2] {
        [
            Column::new("uncertain", ColumnType::Integer).not_null().default(DefaultValue::Number("0".into())),
            Column::new("source", ColumnType::Text),
        ]
    }

    /// The columns of the history table, or `None` when it does not exist.
    fn history_columns(&self, conn: &mut Connection, dialect: &dyn Dialect) -> Result<Option<Table>, RuntimeError> {
        let filter = NameFilter { include: vec![self.history_table.clone()], exclude: vec![] };
        Ok(dialect.reflect(conn, &filter)?.table(&self.history_table).cloned())
    }

    /// Statements adding the columns a history table made by an older
    /// version lacks (none when it has them all or does not exist).
    pub fn add_missing_columns(
        &self,
        conn: &mut Connection,
        dialect: &dyn Dialect,
    ) -> Result<Vec<String>, RuntimeError> {
        let Some(table) = self.history_columns(conn, dialect)? else { return Ok(Vec::new()) };
        let schema = crate::schema::Schema { tables: vec![table.clone()], enums: Vec::new() };
        let mut statements = Vec::new();
        for column in Self::added_history_columns().into_iter().filter(|c| table.column(&c.name).is_none()) {
            let op = Op::AddColumn { table: self.history_table.clone(), column };
            statements.extend(dialect.render_op(&op, &schema)?);
        }
        Ok(statements)
    }

    /// The whole history, oldest first (empty when the table does not exist).
    pub fn history(&self, conn: &mut Connection, dialect: &dyn Dialect) -> Result<Vec<HistoryEntry>, RuntimeError> {
        let Some(table) = self.history_columns(conn, dialect)? else { return Ok(Vec::new()) };
        if table.column("source").is_none() || table.column("uncertain").is_none() {
            let sql = dialect.select_text_sql(&self.history_table, &HISTORY_COLUMNS[..11], "id");
            let rows: Vec<OldHistoryRow> = conn.load(&sql)?;
            return Ok(rows
                .into_iter()
                .map(|r| HistoryRow {
                    id: r.id,
                    revision: r.revision,
                    direction: r.direction,
                    checksum: r.checksum,
                    started_at: r.started_at,
                    finished_at: r.finished_at,
                    outcome: r.outcome,
                    ops_done: r.ops_done,
                    statements_done: r.statements_done,
                    failed_op: r.failed_op,
                    error: r.error,
                    uncertain: None,
                    source: None,
                })
                .map(HistoryRow::entry)
                .collect());
        }
        let rows: Vec<HistoryRow> = conn.load(&dialect.select_text_sql(&self.history_table, &HISTORY_COLUMNS, "id"))?;
        Ok(rows.into_iter().map(HistoryRow::entry).collect())
    }

    /// Statements that turn the version rows `before` into `after`: an
    /// `UPDATE` where one head replaces another, else deletes and inserts.
    pub fn version_statements(&self, dialect: &dyn Dialect, before: &[String], after: &[String]) -> Vec<String> {
        let removed: Vec<&String> = before.iter().filter(|h| !after.contains(h)).collect();
        let added: Vec<&String> = after.iter().filter(|h| !before.contains(h)).collect();
        let table = &self.version_table;
        if let ([old], [new]) = (removed.as_slice(), added.as_slice()) {
            let key = Value::Text(old.to_string());
            return vec![dialect.update_sql(
                table,
                &[("version_num", Value::Text(new.to_string()))],
                ("version_num", &key),
            )];
        }
        let deletes = removed.iter().map(|h| dialect.delete_sql(table, "version_num", &Value::Text(h.to_string())));
        let inserts = added.iter().map(|h| dialect.insert_sql(table, &[("version_num", Value::Text(h.to_string()))]));
        deletes.chain(inserts).collect()
    }

    /// Inserts a history row (its `id` is assigned by the database).
    pub fn insert_history(&self, dialect: &dyn Dialect, entry: &HistoryEntry) -> String {
        let mut row = vec![
            ("revision", Value::Text(entry.revision.clone())),
            ("direction", Value::Text(entry.direction.clone())),
            ("checksum", Value::Text(entry.checksum.clone())),
            ("started_at", Value::Text(entry.started_at.clone())),
            ("outcome", Value::Text(entry.outcome.clone())),
            ("ops_done", Value::Integer(entry.ops_done as i64)),
            ("statements_done", Value::Integer(entry.statements_done as i64)),
            ("uncertain", Value::Integer(i64::from(entry.uncertain))),
        ];
        for (column, value) in [
            ("finished_at", &entry.finished_at),
            ("failed_op", &entry.failed_op),
            ("error", &entry.error),
            ("source", &entry.source),
        ] {
            if let Some(value) = value {
                row.push((column, Value::Text(value.clone())));
            }
        }
        dialect.insert_sql(&self.history_table, &row)
    }

    /// Records progress on the history row `id` (one attempt's own row).
    pub fn update_history(&self, dialect: &dyn Dialect, id: i64, set: &[(&str, Value)]) -> String {
        dialect.update_sql(&self.history_table, set, ("id", &Value::Integer(id)))
    }
}

impl HistoryRow {
    fn entry(self) -> HistoryEntry {
        let number = |v: Option<String>| v.and_then(|i| i.trim().parse::<i64>().ok()).unwrap_or_default();
        HistoryEntry {
            id: number(self.id),
            revision: self.revision.unwrap_or_default(),
            direction: self.direction.unwrap_or_default(),
            checksum: self.checksum.unwrap_or_default(),
            started_at: self.started_at.unwrap_or_default(),
            finished_at: self.finished_at,
            outcome: self.outcome.unwrap_or_default(),
            ops_done: number(self.ops_done).max(0) as usize,
            statements_done: number(self.statements_done).max(0) as usize,
            failed_op: self.failed_op,
            error: self.error,
            uncertain: number(self.uncertain) != 0,
            source: self.source,
        }
    }
}
