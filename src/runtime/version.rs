//! The tool's own tables: the version table (one row per current head, as
//! Alembic keeps it) and the history table (one row per step ever run).

use super::RuntimeError;
use crate::db::Connection;
use crate::dialect::query::{DecodeError, StatementRef};
use crate::dialect::{Dialect, RunLockKind};
use crate::ops::Op;
use crate::orm::exec;
use crate::orm::expr::{Column, Expression};
use crate::orm::query::{Delete, Insert, NamedTable, Row, Statement, Update, delete_from, insert_into, select, text};
use crate::orm::value::{FromRow, RowReader};
use crate::schema::{Column as ColumnDef, ColumnType, DefaultValue, NameFilter, PrimaryKey, Table};

/// Marker of the version table's columns.
pub enum VersionTable {}
/// Marker of the history table's columns.
pub enum HistoryTable {}

/// The version table's one column: a current head.
const VERSION_NUM: Column<VersionTable, String> = Column::unqualified("version_num");

/// The history table's columns, typed.
pub mod history {
    use super::HistoryTable;
    use crate::orm::expr::Column;

    /// Increasing with time (generated).
    pub const ID: Column<HistoryTable, i64> = Column::unqualified("id");
    /// The revision run.
    pub const REVISION: Column<HistoryTable, String> = Column::unqualified("revision");
    /// `up`, `down`, `stamp`, ...
    pub const DIRECTION: Column<HistoryTable, String> = Column::unqualified("direction");
    /// The revision file's checksum.
    pub const CHECKSUM: Column<HistoryTable, String> = Column::unqualified("checksum");
    /// RFC 3339, UTC.
    pub const STARTED_AT: Column<HistoryTable, String> = Column::unqualified("started_at");
    /// RFC 3339, UTC.
    pub const FINISHED_AT: Column<HistoryTable, Option<String>> = Column::unqualified("finished_at");
    /// `running`, `ok` or `failed`.
    pub const OUTCOME: Column<HistoryTable, String> = Column::unqualified("outcome");
    /// Ops completed.
    pub const OPS_DONE: Column<HistoryTable, i64> = Column::unqualified("ops_done");
    /// Statements of the next op completed.
    pub const STATEMENTS_DONE: Column<HistoryTable, i64> = Column::unqualified("statements_done");
    /// The op that failed.
    pub const FAILED_OP: Column<HistoryTable, Option<String>> = Column::unqualified("failed_op");
    /// The database's error.
    pub const ERROR: Column<HistoryTable, Option<String>> = Column::unqualified("error");
    /// 1 while a DDL statement is started and not recorded as finished.
    pub const UNCERTAIN: Column<HistoryTable, i64> = Column::unqualified("uncertain");
    /// The revision file's text.
    pub const SOURCE: Column<HistoryTable, Option<String>> = Column::unqualified("source");
}

/// A change of the version table, as a Core statement: run with bound
/// values and its row count checked, or printed with literals offline.
#[derive(Debug, Clone, PartialEq)]
pub enum VersionChange {
    /// A head added.
    Insert(Insert<'static>),
    /// One head replaced by another.
    Update(Update),
    /// A head removed.
    Delete(Delete),
}

impl Statement for VersionChange {
    fn as_ast(&self) -> StatementRef<'_> {
        match self {
            VersionChange::Insert(s) => s.as_ast(),
            VersionChange::Update(s) => s.as_ast(),
            VersionChange::Delete(s) => s.as_ast(),
        }
    }
}

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
        version.columns = vec![ColumnDef::new("version_num", text(32)).not_null()];
        version.primary_key = Some(PrimaryKey { name: None, columns: vec!["version_num".into()] });
        let mut history = Table::new(&self.history_table);
        history.columns = vec![
            ColumnDef::new("id", ColumnType::Integer).not_null().autoincrement(),
            ColumnDef::new("revision", text(32)).not_null(),
            ColumnDef::new("direction", text(8)).not_null(),
            ColumnDef::new("checksum", text(64)).not_null(),
            ColumnDef::new("started_at", text(40)).not_null(),
            ColumnDef::new("finished_at", text(40)),
            ColumnDef::new("outcome", text(16)).not_null(),
            ColumnDef::new("ops_done", ColumnType::Integer).not_null().default(DefaultValue::Number("0".into())),
            ColumnDef::new("statements_done", ColumnType::Integer).not_null().default(DefaultValue::Number("0".into())),
            ColumnDef::new("failed_op", text(255)),
            ColumnDef::new("error", ColumnType::Text),
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
            ColumnDef::new("id", ColumnType::Integer).not_null(),
            ColumnDef::new("holder", text(128)),
            ColumnDef::new("host", text(255)),
            ColumnDef::new("pid", ColumnType::Integer),
            ColumnDef::new("acquired_at", ColumnType::Timestamp),
            ColumnDef::new("expires_at", ColumnType::Timestamp),
            ColumnDef::new("revision", text(32)),
            ColumnDef::new("direction", text(8)),
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

    /// The version table, for statements.
    fn version(&self) -> NamedTable<VersionTable> {
        NamedTable::new(&self.version_table)
    }

    /// The history table, for statements.
    fn history_named(&self) -> NamedTable<HistoryTable> {
        NamedTable::new(&self.history_table)
    }

    /// Runs a step's version-table changes, each compare-and-set: an
    /// `UPDATE` or `DELETE` names the head it expects and must change
    /// exactly one row (an `INSERT` of a head relies on the primary key).
    /// The caller rolls back on an error.
    pub fn apply_version(
        &self,
        conn: &mut Connection,
        revision: &str,
        changes: &[VersionChange],
    ) -> Result<(), RuntimeError> {
        for change in changes {
            let rows = exec::execute(conn, change)?;
            if rows != 1 {
                let dialect = crate::dialect::of(conn.backend());
                return Err(RuntimeError::VersionConflict {
                    revision: revision.to_string(),
                    statement: change.to_literal_sql(dialect).unwrap_or_else(|e| e.to_string()),
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
        self.read_heads(conn)
    }

    /// The current heads, the version table known to exist.
    pub fn read_heads(&self, conn: &mut Connection) -> Result<Vec<String>, RuntimeError> {
        let query = select(VERSION_NUM).from(&self.version()).order_by(VERSION_NUM.asc());
        Ok(exec::fetch(conn, &query)?)
    }

    /// History columns added after the table's first version, which older
    /// tables lack.
    fn added_history_columns() -> [ColumnDef; 2] {
        [
            ColumnDef::new("uncertain", ColumnType::Integer).not_null().default(DefaultValue::Number("0".into())),
            ColumnDef::new("source", ColumnType::Text),
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
        use history::*;
        let Some(table) = self.history_columns(conn, dialect)? else { return Ok(Vec::new()) };
        let first = (ID, REVISION, DIRECTION, CHECKSUM, STARTED_AT, FINISHED_AT, OUTCOME);
        let progress = (OPS_DONE, STATEMENTS_DONE, FAILED_OP, ERROR);
        // A history table made before `uncertain` and `source` existed is read as it is.
        let query = if table.column("source").is_none() || table.column("uncertain").is_none() {
            select((first, progress))
        } else {
            select((first, progress, UNCERTAIN, SOURCE))
        };
        Ok(exec::fetch(conn, &query.from(&self.history_named()).order_by(ID.asc()))?)
    }

    /// The changes that turn the version rows `before` into `after`: an
    /// `UPDATE` where one head replaces another, else deletes and inserts.
    pub fn version_statements(&self, before: &[String], after: &[String]) -> Vec<VersionChange> {
        let removed: Vec<&String> = before.iter().filter(|h| !after.contains(h)).collect();
        let added: Vec<&String> = after.iter().filter(|h| !before.contains(h)).collect();
        if let ([old], [new]) = (removed.as_slice(), added.as_slice()) {
            let update = crate::orm::query::update(&self.version())
                .set(VERSION_NUM, new.as_str())
                .filter(VERSION_NUM.eq(old.as_str()));
            return vec![VersionChange::Update(update)];
        }
        let deletes = removed.iter().map(|h| self.delete_head(h));
        let inserts = added
            .iter()
            .map(|h| VersionChange::Insert(insert_into(&self.version()).row(Row::new().set(VERSION_NUM, h.as_str()))));
        deletes.chain(inserts).collect()
    }

    /// Removes the head `head`.
    pub fn delete_head(&self, head: &str) -> VersionChange {
        VersionChange::Delete(delete_from(&self.version()).filter(VERSION_NUM.eq(head)))
    }

    /// Inserts a history row; the `id` the database assigned it.
    pub fn insert_history(&self, conn: &mut Connection, entry: &HistoryEntry) -> Result<i64, RuntimeError> {
        use history::*;
        let row = Row::new()
            .set(REVISION, &entry.revision)
            .set(DIRECTION, &entry.direction)
            .set(CHECKSUM, &entry.checksum)
            .set(STARTED_AT, &entry.started_at)
            .set(FINISHED_AT, entry.finished_at.as_deref())
            .set(OUTCOME, &entry.outcome)
            .set(OPS_DONE, entry.ops_done as i64)
            .set(STATEMENTS_DONE, entry.statements_done as i64)
            .set(FAILED_OP, entry.failed_op.as_deref())
            .set(ERROR, entry.error.as_deref())
            .set(UNCERTAIN, i64::from(entry.uncertain))
            .set(SOURCE, entry.source.as_deref());
        let insert = insert_into(&self.history_named()).row(row);
        let (dialect, caps) = exec::capabilities(conn)?;
        let id = if caps.returning_insert {
            exec::fetch_optional::<i64>(conn, &insert.returning(ID))?
        } else {
            exec::execute(conn, &insert)?;
            exec::fetch_optional::<i64>(conn, &text(dialect.last_insert_id_query()))?
        };
        id.ok_or_else(|| crate::orm::Error::NoRow { statement: crate::orm::StatementKind::Insert }.into())
    }

    /// An update of the history row `id` (one attempt's own row): add
    /// `.set(history::..., value)`s and run it with [`Bookkeeping::write`].
    pub fn update_history(&self, id: i64) -> Update {
        crate::orm::query::update(&self.history_named()).filter(history::ID.eq(id))
    }

    /// Runs a statement on the tool's tables; the number of rows it changed.
    pub fn write(conn: &mut Connection, statement: &impl Statement) -> Result<usize, RuntimeError> {
        Ok(exec::execute(conn, statement)?)
    }
}

impl FromRow for HistoryEntry {
    fn from_row<R: RowReader>(row: &mut R) -> Result<Self, DecodeError> {
        let count = |n: i64| usize::try_from(n).unwrap_or_default();
        Ok(HistoryEntry {
            id: row.next()?,
            revision: row.next()?,
            direction: row.next()?,
            checksum: row.next()?,
            started_at: row.next()?,
            finished_at: row.next()?,
            outcome: row.next()?,
            ops_done: count(row.next()?),
            statements_done: count(row.next()?),
            failed_op: row.next()?,
            error: row.next()?,
            // Absent from a table made before they existed.
            uncertain: if row.is_null_ahead(0) { false } else { row.next::<i64>()? != 0 },
            source: if row.is_null_ahead(0) { None } else { row.next()? },
        })
    }
}
