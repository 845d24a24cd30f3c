//! SQLite: reflection through the `pragma_*` table-valued functions joined to
//! `sqlite_master` (four queries), plus the stored `CREATE` statements, read
//! with `sqlparser`, for what the pragmas do not tell: CHECK constraints,
//! constraint names, `AUTOINCREMENT`, partial and expression indexes.
//!
//! Types are stored as declared, so a column reads back with the type it was
//! created with. An enum is a `TEXT` column with a column-level check named
//! after the enum: `CONSTRAINT "mood" CHECK ("mood" IN ('a', 'b'))`.

#[cfg(feature = "sqlite")]
mod value;

use super::failure::driver_kind;
use super::render::{render_common, unsupported};
use super::transaction::AccessMode;
use super::{ClassifyFailure, Failure, FailureKind, TransactionOptions, TransactionSql};
use super::{
    Dialect, ReflectError, RenderError, RunLockKind, column_sql, common_type, create_table_sql, enum_columns,
    parse_default, split_type, sql_name_list, wrap_quoted,
};
use crate::db::ServerError;
use crate::db::{Connection, DbError};
use crate::ops::Op;
use crate::schema::{
    Check, Column, ColumnType, DefaultValue, ForeignKey, ForeignKeyAction, Index, IndexKey, NameFilter, PrimaryKey,
    Schema, Table, UniqueConstraint,
};
use sqlparser::ast::{
    ColumnOption, CreateIndex, CreateTable, Expr, ForeignKeyConstraint, InTarget, Statement, TableConstraint, Value,
};
use sqlparser::dialect::SQLiteDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;
use std::collections::BTreeMap;

/// The SQLite dialect.
#[derive(Debug, Clone, Copy, Default)]
pub struct SqliteDialect;

text_row!(TableRow { kind, name, table_name, sql });
text_row!(ColumnRow { table_name, name, type_sql, not_null, default_sql, pk, hidden });
text_row!(IndexRow { table_name, name, is_unique, origin, column_name, sql });
text_row!(ForeignKeyRow { table_name, id, referred_table, column_name, referred_column, on_delete, on_update });

impl Dialect for SqliteDialect {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn backend(&self) -> crate::db::Backend {
        crate::db::Backend::Sqlite
    }

    fn quote_identifier(&self, ident: &str) -> String {
        wrap_quoted(ident, '"')
    }

    fn quote_string(&self, value: &str) -> String {
        wrap_quoted(value, '\'')
    }

    fn render_type(&self, ty: &ColumnType) -> String {
        match ty {
            ColumnType::Binary => "BLOB".into(),
            ColumnType::Enum { .. } => "TEXT".into(),
            ColumnType::Raw { sql } => sql.clone(),
            portable => portable.to_string().to_ascii_uppercase(),
        }
    }

    fn parse_type(&self, sql: &str) -> ColumnType {
        let (base, args, tail) = split_type(sql);
        let raw = || ColumnType::Raw { sql: sql.trim().into() };
        let Some(args) = args.filter(|_| tail.is_empty()) else { return raw() };
        let ty = match (base.as_str(), args.as_slice()) {
            ("int", []) => Some(ColumnType::Integer),
            ("double", []) | ("float", []) => Some(ColumnType::Double),
            ("datetime", []) => Some(ColumnType::Timestamp),
            ("timestamptz", []) => Some(ColumnType::Timestamptz),
            ("blob", []) => Some(ColumnType::Binary),
            (base, args) => common_type(base, args),
        };
        ty.unwrap_or_else(raw)
    }

    fn canonical_type(&self, ty: &ColumnType) -> ColumnType {
        match ty {
            ColumnType::Enum { .. } => ty.clone(),
            other => self.parse_type(&self.render_type(other)),
        }
    }

    fn canonical_table(&self, table: &Table) -> Table {
        let mut table = table.clone();
        // Primary keys have no names here, and an autoincrement column is an
        // INTEGER PRIMARY KEY whatever integer type it was declared with.
        if let Some(pk) = &mut table.primary_key {
            pk.name = None;
        }
        for column in table.columns.iter_mut().filter(|c| c.autoincrement) {
            column.ty = ColumnType::Integer;
            column.nullable = false;
        }
        table
    }

    fn has_comments(&self) -> bool {
        false
    }

    fn rebuilds_table(&self, op: &Op, before: &Schema) -> bool {
        match op {
            Op::AddColumn { column, .. } => !addable(column),
            Op::DropColumn { table, column } => before.table(table).is_some_and(|t| constrains(t, &column.name)),
            Op::AlterColumn(alter) => alter.ty.is_some() || alter.nullable.is_some() || alter.default.is_some(),
            Op::AddUnique { .. }
            | Op::DropUnique { .. }
            | Op::AddForeignKey { .. }
            | Op::DropForeignKey { .. }
            | Op::AddCheck { .. }
            | Op::DropCheck { .. }
            | Op::AddPrimaryKey { .. }
            | Op::DropPrimaryKey { .. }
            | Op::AddEnumValue { .. }
            | Op::DropEnumValue { .. } => true,
            _ => false,
        }
    }

    fn expression_parser(&self) -> Box<dyn sqlparser::dialect::Dialect> {
        Box::new(sqlparser::dialect::SQLiteDialect {})
    }

    fn render_default(&self, default: &DefaultValue) -> String {
        match default {
            DefaultValue::String(s) => self.quote_string(s),
            DefaultValue::CurrentTimestamp => "CURRENT_TIMESTAMP".into(),
            DefaultValue::CurrentDate => "CURRENT_DATE".into(),
            DefaultValue::CurrentTime => "CURRENT_TIME".into(),
            DefaultValue::Expression(e) => format!("({e})"),
            other => other.to_text(),
        }
    }

    fn column_definition(&self, column: &Column) -> String {
        // `AUTOINCREMENT` exists only on an `INTEGER PRIMARY KEY` written on
        // its column.
        if column.autoincrement {
            return column_sql(self, column, "INTEGER", false) + " PRIMARY KEY AUTOINCREMENT";
        }
        let mut sql = column_sql(self, column, &self.render_type(&column.ty), false);
        if let ColumnType::Enum { name, values } = &column.ty {
            let values: Vec<String> = values.iter().map(|v| self.quote_string(v)).collect();
            let (name, column) = (self.quote_identifier(name), self.quote_identifier(&column.name));
            sql.push_str(&format!(" CONSTRAINT {name} CHECK ({column} IN ({}))", values.join(", ")));
        }
        sql
    }

    fn create_table(&self, table: &Table) -> Vec<String> {
        let inline_key = table.columns.iter().any(|c| c.autoincrement);
        let mut statements = vec![create_table_sql(self, table, inline_key)];
        statements.extend(table.indexes.iter().map(|i| self.create_index(&table.name, i)));
        statements
    }

    fn render_op(&self, op: &Op, before: &Schema) -> Result<Vec<String>, RenderError> {
        if let Some(message) = self.cannot_run(op) {
            return Err(super::render::unsupported(self, op, &message));
        }
        if self.rebuilds_table(op, before) {
            return self.rebuild(op, before);
        }
        match op {
            Op::AlterColumn(alter) => Ok(match &alter.rename {
                Some(name) => vec![format!(
                    "ALTER TABLE {} RENAME COLUMN {} TO {}",
                    self.quote_identifier(&alter.table),
                    self.quote_identifier(&alter.column),
                    self.quote_identifier(name)
                )],
                None => Vec::new(), // only a comment: SQLite keeps none
            }),
            Op::CreateEnum(_) | Op::DropEnum(_) | Op::SetTableComment { .. } => Ok(Vec::new()),
            other => render_common(self, other),
        }
    }

    fn run_lock(&self, _key: &str, _cluster: bool) -> RunLockKind {
        RunLockKind::File
    }

    fn clock_sql(&self, seconds: u64) -> String {
        format!("strftime('%Y-%m-%d %H:%M:%f', 'now', '+{seconds} seconds')")
    }

    fn session_setup(&self) -> Vec<String> {
        // Rebuilding a table drops it: with enforcement on, that would cascade
        // to the rows referring to it. Keys are checked before each commit.
        vec!["PRAGMA foreign_keys = OFF".into()]
    }

    fn session_restore(&self, conn: &mut Connection) -> Result<Vec<String>, DbError> {
        text_row!(Enforced { value });
        let rows: Vec<Enforced> = conn.load("SELECT foreign_keys AS value FROM pragma_foreign_keys")?;
        let on = rows.first().and_then(|r| r.value.as_deref()) == Some("1");
        Ok(vec![format!("PRAGMA foreign_keys = {}", if on { "ON" } else { "OFF" })])
    }

    fn foreign_key_check(&self) -> Option<&'static str> {
        Some("SELECT \"table\" AS value FROM pragma_foreign_key_check")
    }

    fn busy_timeout(&self, seconds: f64) -> Option<String> {
        Some(format!("PRAGMA busy_timeout = {}", (seconds.max(0.0) * 1000.0).round() as u64))
    }

    fn sql_parser(&self) -> Box<dyn sqlparser::dialect::Dialect> {
        Box::new(sqlparser::dialect::SQLiteDialect {})
    }

    fn reflect(&self, conn: &mut Connection, filter: &NameFilter) -> Result<Schema, ReflectError> {
        // Tables, and their triggers (which a rebuild must recreate).
        let rows: Vec<TableRow> = conn.load(
            "SELECT type AS kind, name, tbl_name AS table_name, sql FROM sqlite_master \
             WHERE type IN ('table', 'trigger') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY type, name",
        )?;
        let mut tables: BTreeMap<String, Table> = BTreeMap::new();
        let mut parsed = BTreeMap::new();
        for row in rows {
            let Some(name) = row.name else { continue };
            match row.kind.as_deref() {
                Some("table") if filter.matches(&name) => {
                    parsed.insert(name.clone(), ParsedTable::parse(&name, row.sql.as_deref().unwrap_or_default())?);
                    tables.insert(name.clone(), Table::new(name));
                }
                Some("trigger") => {
                    // Rows come tables first: the trigger's table is known by now.
                    let table = row.table_name.and_then(|t| tables.get_mut(&t));
                    if let (Some(table), Some(sql)) = (table, row.sql) {
                        table.triggers.push(sql);
                    }
                }
                _ => {}
            }
        }
        if tables.is_empty() {
            return Ok(Schema::default());
        }
        let names: Vec<String> = tables.keys().cloned().collect();
        let scope = format!("m.type = 'table' AND m.name IN ({})", sql_name_list(self, &names));

        self.reflect_columns(conn, &scope, &parsed, &mut tables)?;
        self.reflect_indexes(conn, &scope, &parsed, &mut tables)?;
        self.reflect_foreign_keys(conn, &scope, &parsed, &mut tables)?;
        for (name, table) in &mut tables {
            table.checks = parsed[name].checks.clone();
        }

        let mut schema = Schema { tables: tables.into_values().collect(), enums: Vec::new() };
        schema.normalize();
        Ok(schema)
    }
}

impl SqliteDialect {
    /// SQLite cannot alter most things in place: make each table `op`
    /// changes anew under a temporary name, copy the rows, drop the old
    /// table, rename the new one, and recreate its indexes and triggers
    /// (views that read it keep working). The runtime runs
    /// this with foreign-key enforcement off, inside the revision's
    /// transaction, and checks the foreign keys before committing.
    fn rebuild(&self, op: &Op, before: &Schema) -> Result<Vec<String>, RenderError> {
        let fail = |message: String| unsupported(self, op, &message);
        let mut after = before.clone();
        after.apply(op).map_err(|e| fail(format!("cannot rebuild: {}", e.message)))?;
        let tables: Vec<&str> = match (op, op.table_name()) {
            (_, Some(table)) => vec![table],
            (Op::AddEnumValue { name, .. } | Op::DropEnumValue { name, .. }, None) => {
                let mut tables: Vec<&str> = enum_columns(before, name).into_iter().map(|(t, _)| t).collect();
                tables.dedup();
                tables
            }
            _ => Vec::new(),
        };
        let mut statements = Vec::new();
        for name in tables {
            let old = before.table(name).ok_or_else(|| fail(format!("no table `{name}` to rebuild")))?;
            let new = after.table(name).expect("an op that alters a table keeps it");
            let renamed_from = match op {
                Op::AlterColumn(a) if a.rename.is_some() => Some((a.rename.as_deref().unwrap_or_default(), &a.column)),
                _ => None,
            };
            // Columns of the new table that hold the old table's data, and where from.
            let (mut targets, mut sources) = (Vec::new(), Vec::new());
            for column in &new.columns {
                let source = match renamed_from {
                    Some((to, from)) if to == column.name => from.as_str(),
                    _ => column.name.as_str(),
                };
                if old.column(source).is_some() {
                    targets.push(self.quote_identifier(&column.name));
                    sources.push(self.quote_identifier(source));
                }
            }
            let temporary = format!("_migrate_new_{name}");
            let (q_name, q_temp) = (self.quote_identifier(name), self.quote_identifier(&temporary));
            let inline_key = new.columns.iter().any(|c| c.autoincrement);
            let mut create = create_table_sql(self, new, inline_key);
            create.replace_range(..format!("CREATE TABLE {q_name}").len(), &format!("CREATE TABLE {q_temp}"));
            statements.push(create);
            statements.push(format!(
                "INSERT INTO {q_temp} ({}) SELECT {} FROM {q_name}",
                targets.join(", "),
                sources.join(", ")
            ));
            statements.extend(self.unknown_trigger_guard(name, &new.triggers));
            // Legacy renaming checks no view: one that reads the table
            // works again once the new table has its name.
            statements.push("PRAGMA legacy_alter_table = ON".into());
            statements.push(format!("DROP TABLE {q_name}"));
            statements.push(format!("ALTER TABLE {q_temp} RENAME TO {q_name}"));
            statements.push("PRAGMA legacy_alter_table = OFF".into());
            statements.extend(new.indexes.iter().map(|i| self.create_index(name, i)));
            // Dropping the table dropped its triggers.
            statements.extend(new.triggers.iter().cloned());
        }
        Ok(statements)
    }

    /// Statements that fail, before a rebuild drops `table`, if the table
    /// has triggers other than `known` (made by `execute` ops earlier in the
    /// same run, after the schema was read): dropping them silently would
    /// lose them.
    fn unknown_trigger_guard(&self, table: &str, known: &[String]) -> Vec<String> {
        let guard = self.quote_identifier("_migrate_trigger_guard");
        let message = format!(
            "triggers on {table} made earlier in this run would be lost by rebuilding it: \
             upgrade to the revision that makes them first, then on"
        );
        let mut unknown = format!(
            "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = {}",
            self.quote_string(table)
        );
        if !known.is_empty() {
            let known: Vec<String> = known.iter().map(|sql| self.quote_string(sql)).collect();
            unknown.push_str(&format!(" AND sql NOT IN ({})", known.join(", ")));
        }
        vec![
            format!(
                "CREATE TEMP TABLE {guard} (n INTEGER CONSTRAINT {} CHECK (n = 0))",
                self.quote_identifier(&message)
            ),
            format!("INSERT INTO {guard} {unknown}"),
            format!("DROP TABLE {guard}"),
        ]
    }

    fn reflect_columns(
        &self,
        conn: &mut Connection,
        scope: &str,
        parsed: &BTreeMap<String, ParsedTable>,
        tables: &mut BTreeMap<String, Table>,
    ) -> Result<(), ReflectError> {
        let rows: Vec<ColumnRow> = conn.load(&format!(
            "SELECT m.name AS table_name, p.name AS name, p.type AS type_sql, CAST(p.\"notnull\" AS TEXT) AS not_null, \
               p.dflt_value AS default_sql, CAST(p.pk AS TEXT) AS pk, CAST(p.hidden AS TEXT) AS hidden \
             FROM sqlite_master m JOIN pragma_table_xinfo(m.name) p WHERE {scope} ORDER BY m.name, p.cid"
        ))?;
        let mut primary_keys: BTreeMap<String, Vec<(u32, String)>> = BTreeMap::new();
        for row in rows {
            let table_name = row.table_name.unwrap_or_default();
            let Some(table) = tables.get_mut(&table_name) else { continue };
            if row.hidden.as_deref() == Some("1") {
                continue; // a virtual table's hidden column
            }
            let info = &parsed[&table_name];
            let name = row.name.unwrap_or_default();
            let ty = match info.enums.get(&name) {
                Some((enum_name, values)) => ColumnType::Enum { name: enum_name.clone(), values: values.clone() },
                None => self.parse_type(row.type_sql.as_deref().unwrap_or_default()),
            };
            let mut column = Column::new(name.clone(), ty);
            column.nullable = row.not_null.as_deref() != Some("1");
            column.autoincrement = info.autoincrement.as_deref() == Some(name.as_str());
            if column.autoincrement {
                column.nullable = false; // an INTEGER PRIMARY KEY is the rowid: never null
            }
            column.default = row.default_sql.and_then(|sql| parse_default(&sql, &column.ty));
            if let Some(position) = row.pk.and_then(|p| p.parse::<u32>().ok()).filter(|p| *p > 0) {
                primary_keys.entry(table_name).or_default().push((position, name));
            }
            table.columns.push(column);
        }
        for (table_name, mut columns) in primary_keys {
            columns.sort();
            let columns = columns.into_iter().map(|(_, c)| c).collect();
            tables.get_mut(&table_name).expect("reflected above").primary_key =
                Some(PrimaryKey { name: None, columns });
        }
        Ok(())
    }

    fn reflect_indexes(
        &self,
        conn: &mut Connection,
        scope: &str,
        parsed: &BTreeMap<String, ParsedTable>,
        tables: &mut BTreeMap<String, Table>,
    ) -> Result<(), ReflectError> {
        let rows: Vec<IndexRow> = conn.load(&format!(
            "SELECT m.name AS table_name, il.name AS name, CAST(il.\"unique\" AS TEXT) AS is_unique, \
               il.origin AS origin, ii.name AS column_name, im.sql AS sql \
             FROM sqlite_master m JOIN pragma_index_list(m.name) il JOIN pragma_index_info(il.name) ii \
             LEFT JOIN sqlite_master im ON im.type = 'index' AND im.name = il.name \
             WHERE {scope} ORDER BY m.name, il.name, ii.seqno"
        ))?;
        let mut indexes: BTreeMap<(String, String), IndexInfo> = BTreeMap::new();
        for row in rows {
            let key = (row.table_name.unwrap_or_default(), row.name.unwrap_or_default());
            let entry = indexes.entry(key).or_insert_with(|| IndexInfo {
                unique: row.is_unique.as_deref() == Some("1"),
                origin: row.origin.unwrap_or_default(),
                columns: Vec::new(),
                sql: row.sql,
            });
            entry.columns.extend(row.column_name);
        }
        for ((table_name, name), IndexInfo { unique, origin, columns, sql }) in indexes {
            let Some(table) = tables.get_mut(&table_name) else { continue };
            match (origin.as_str(), sql) {
                ("pk", _) => {}
                ("u", _) => {
                    let name = parsed[&table_name].unique_names.get(&columns).cloned().flatten();
                    table.unique_constraints.push(UniqueConstraint { name, columns });
                }
                (_, Some(sql)) => table.indexes.push(parse_index(&name, &sql)?),
                (_, None) => {
                    let keys = columns.into_iter().map(IndexKey::Column).collect();
                    table.indexes.push(Index { name, keys, unique, predicate: None });
                }
            }
        }
        Ok(())
    }

    fn reflect_foreign_keys(
        &self,
        conn: &mut Connection,
        scope: &str,
        parsed: &BTreeMap<String, ParsedTable>,
        tables: &mut BTreeMap<String, Table>,
    ) -> Result<(), ReflectError> {
        let rows: Vec<ForeignKeyRow> = conn.load(&format!(
            "SELECT m.name AS table_name, CAST(f.id AS TEXT) AS id, f.\"table\" AS referred_table, \
               f.\"from\" AS column_name, f.\"to\" AS referred_column, f.on_delete AS on_delete, f.on_update AS on_update \
             FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f WHERE {scope} ORDER BY m.name, f.id, f.seq"
        ))?;
        let mut keys: BTreeMap<(String, String), ForeignKey> = BTreeMap::new();
        for row in rows {
            let table_name = row.table_name.unwrap_or_default();
            let fk = keys.entry((table_name, row.id.unwrap_or_default())).or_insert_with(|| ForeignKey {
                name: None,
                columns: Vec::new(),
                referred_table: row.referred_table.unwrap_or_default(),
                referred_columns: Vec::new(),
                on_delete: row.on_delete.as_deref().and_then(ForeignKeyAction::parse),
                on_update: row.on_update.as_deref().and_then(ForeignKeyAction::parse),
            });
            fk.columns.extend(row.column_name);
            fk.referred_columns.extend(row.referred_column);
        }
        for ((table_name, _), mut fk) in keys {
            if fk.referred_columns.is_empty() {
                // `REFERENCES t` without columns means t's primary key.
                let referred = tables.get(&fk.referred_table).and_then(|t| t.primary_key.as_ref());
                fk.referred_columns = referred.map(|pk| pk.columns.clone()).unwrap_or_default();
            }
            fk.name =
                parsed[&table_name].foreign_key_names.get(&(fk.columns.clone(), fk.referred_table.clone())).cloned();
            if let Some(table) = tables.get_mut(&table_name) {
                table.foreign_keys.push(fk);
            }
        }
        Ok(())
    }
}

/// One index as `pragma_index_list` and `pragma_index_info` describe it.
struct IndexInfo {
    unique: bool,
    /// `c` (CREATE INDEX), `u` (UNIQUE constraint) or `pk`.
    origin: String,
    columns: Vec<String>,
    /// The stored `CREATE INDEX`; none for constraint indexes.
    sql: Option<String>,
}

/// Whether `ALTER TABLE ADD COLUMN` can add `column`: SQLite refuses
/// autoincrement, NOT NULL without a default, and non-constant defaults.
fn addable(column: &Column) -> bool {
    let constant_default = matches!(
        column.default,
        None | Some(DefaultValue::Boolean(_) | DefaultValue::Number(_) | DefaultValue::String(_))
    );
    !column.autoincrement && constant_default && (column.nullable || column.default.is_some())
}

/// Whether a key, index or constraint of `table` uses `column`, so that
/// `DROP COLUMN` would be refused.
fn constrains(table: &Table, column: &str) -> bool {
    let named = |columns: &[String]| columns.iter().any(|c| c == column);
    table.primary_key.as_ref().is_some_and(|pk| named(&pk.columns))
        || table.unique_constraints.iter().any(|u| named(&u.columns))
        || table.foreign_keys.iter().any(|f| named(&f.columns))
        || table
            .indexes
            .iter()
            .any(|i| i.predicate.is_some() || i.keys.iter().any(|k| !matches!(k, IndexKey::Column(c) if c != column)))
        || table.checks.iter().any(|c| c.expression.contains(column))
        || matches!(table.column(column).map(|c| &c.ty), Some(ColumnType::Enum { .. }))
}

/// What a table's stored `CREATE TABLE` says that its pragmas do not.
#[derive(Debug, Default)]
struct ParsedTable {
    /// The column declared `INTEGER PRIMARY KEY AUTOINCREMENT`.
    autoincrement: Option<String>,
    checks: Vec<Check>,
    /// Column -> (enum name, values), from `CONSTRAINT e CHECK (col IN (...))`.
    enums: BTreeMap<String, (String, Vec<String>)>,
    /// Columns of a unique constraint -> its name, if it has one.
    unique_names: BTreeMap<Vec<String>, Option<String>>,
    /// (columns, referred table) of a foreign key -> its name.
    foreign_key_names: BTreeMap<(Vec<String>, String), String>,
}

impl ParsedTable {
    fn parse(table: &str, sql: &str) -> Result<Self, ReflectError> {
        let error = |message: String| ReflectError::Catalog { object: format!("table {table}"), message };
        let statements = Parser::parse_sql(&SQLiteDialect {}, sql).map_err(|e| error(e.to_string()))?;
        let Some(Statement::CreateTable(CreateTable { columns, constraints, .. })) = statements.into_iter().next()
        else {
            return Err(error(format!("not a CREATE TABLE statement: {sql}")));
        };
        let mut parsed = ParsedTable::default();
        for column in &columns {
            let name = column.name.value.clone();
            for option in &column.options {
                let constraint_name = option.name.as_ref().map(|n| n.value.clone());
                match &option.option {
                    ColumnOption::DialectSpecific(tokens)
                        if tokens
                            .iter()
                            .any(|t| matches!(t, Token::Word(w) if w.value.eq_ignore_ascii_case("autoincrement"))) =>
                    {
                        parsed.autoincrement = Some(name.clone());
                    }
                    ColumnOption::Check(check) => {
                        let constraint_name = constraint_name.or_else(|| check.name.as_ref().map(|n| n.value.clone()));
                        match (constraint_name, enum_values(&check.expr, &name)) {
                            (Some(enum_name), Some(values)) => {
                                parsed.enums.insert(name.clone(), (enum_name, values));
                            }
                            (constraint_name, _) => {
                                parsed.checks.push(Check { name: constraint_name, expression: check.expr.to_string() })
                            }
                        }
                    }
                    ColumnOption::Unique(unique) => {
                        let constraint_name = constraint_name.or_else(|| unique.name.as_ref().map(|n| n.value.clone()));
                        parsed.unique_names.insert(vec![name.clone()], constraint_name);
                    }
                    ColumnOption::ForeignKey(fk) => parsed.foreign_key(fk, vec![name.clone()], constraint_name),
                    _ => {}
                }
            }
        }
        for constraint in &constraints {
            match constraint {
                TableConstraint::Check(check) => parsed.checks.push(Check {
                    name: check.name.as_ref().map(|n| n.value.clone()),
                    expression: check.expr.to_string(),
                }),
                TableConstraint::Unique(unique) => {
                    let columns = unique.columns.iter().map(|c| c.column.expr.to_string()).collect();
                    let columns = unquote_all(columns);
                    parsed.unique_names.insert(columns, unique.name.as_ref().map(|n| n.value.clone()));
                }
                TableConstraint::ForeignKey(fk) => {
                    let columns = fk.columns.iter().map(|c| c.value.clone()).collect();
                    parsed.foreign_key(fk, columns, None);
                }
                _ => {}
            }
        }
        Ok(parsed)
    }

    fn foreign_key(&mut self, fk: &ForeignKeyConstraint, columns: Vec<String>, name: Option<String>) {
        let referred = fk.foreign_table.0.last().and_then(|part| part.as_ident()).map(|i| i.value.clone());
        if let (Some(name), Some(referred)) = (name.or_else(|| fk.name.as_ref().map(|n| n.value.clone())), referred) {
            self.foreign_key_names.insert((columns, referred), name);
        }
    }
}

/// The values of `column IN ('a', 'b')` over `column` itself.
fn enum_values(expr: &Expr, column: &str) -> Option<Vec<String>> {
    let Expr::In { expr, target: InTarget::List(list), negated: false, .. } = expr else { return None };
    let Expr::Identifier(ident) = expr.as_ref() else { return None };
    if ident.value != column {
        return None;
    }
    list.iter()
        .map(|item| match item {
            Expr::Value(v) => match &v.value {
                Value::SingleQuotedString(s) => Some(s.clone()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Index keys printed by sqlparser: a quoted name loses its quotes.
fn unquote_all(names: Vec<String>) -> Vec<String> {
    names
        .into_iter()
        .map(|n| match n.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
            Some(inner) => inner.replace("\"\"", "\""),
            None => n,
        })
        .collect()
}

/// An index from its stored `CREATE INDEX`: keys (columns or expressions),
/// uniqueness, partial predicate.
fn parse_index(name: &str, sql: &str) -> Result<Index, ReflectError> {
    let error = |message: String| ReflectError::Catalog { object: format!("index {name}"), message };
    let statements = Parser::parse_sql(&SQLiteDialect {}, sql).map_err(|e| error(e.to_string()))?;
    let Some(Statement::CreateIndex(CreateIndex { columns, unique, predicate, .. })) = statements.into_iter().next()
    else {
        return Err(error(format!("not a CREATE INDEX statement: {sql}")));
    };
    let keys = columns
        .iter()
        .map(|key| match &key.column.expr {
            Expr::Identifier(ident) => IndexKey::Column(ident.value.clone()),
            Expr::Nested(inner) => IndexKey::Expression(inner.to_string()),
            expr => IndexKey::Expression(expr.to_string()),
        })
        .collect();
    Ok(Index { name: name.to_string(), keys, unique, predicate: predicate.map(|p| p.to_string()) })
}

impl TransactionSql for SqliteDialect {
    fn begin_transaction(&self, options: &TransactionOptions) -> Vec<String> {
        // SQLite transactions are always serializable, which satisfies every
        // level asked for. A writer takes the write lock at once: a deferred
        // one that reads first and then writes fails with SQLITE_BUSY when
        // another writer got there in between, whatever the busy timeout.
        vec![
            match options.access {
                AccessMode::ReadWrite => "BEGIN IMMEDIATE",
                AccessMode::ReadOnly => "BEGIN DEFERRED",
            }
            .to_string(),
        ]
    }

    fn pool_connection_setup(&self) -> Vec<String> {
        // Foreign keys are off by default in SQLite; an application wants
        // them enforced. Writers wait for each other rather than fail.
        vec!["PRAGMA foreign_keys = ON".into(), "PRAGMA busy_timeout = 10000".into()]
    }
}

impl ClassifyFailure for SqliteDialect {
    fn classify_failure(&self, message: &str, server: Option<&ServerError>) -> Failure {
        // SQLite quotes no values in its messages; names follow a colon.
        let mut failure = Failure::new(FailureKind::Other, message.to_string());
        let names = |prefix: &str| message.strip_prefix(prefix).map(str::trim);
        if let Some(columns) = names("UNIQUE constraint failed:") {
            failure.kind = FailureKind::UniqueViolation;
            let qualified: Vec<(&str, &str)> = columns.split(", ").filter_map(|c| c.split_once('.')).collect();
            failure.table = qualified.first().map(|(t, _)| t.to_string());
            failure.columns = qualified.iter().map(|(_, c)| c.to_string()).collect();
        } else if let Some(column) = names("NOT NULL constraint failed:") {
            failure.kind = FailureKind::NotNullViolation;
            if let Some((table, column)) = column.split_once('.') {
                failure.table = Some(table.to_string());
                failure.columns = vec![column.to_string()];
            }
        } else if let Some(name) = names("CHECK constraint failed:") {
            failure.kind = FailureKind::CheckViolation;
            // The constraint's name, or its expression when it has none.
            failure.constraint = Some(name.to_string());
        } else if message.starts_with("FOREIGN KEY constraint failed") {
            failure.kind = FailureKind::ForeignKeyViolation;
        } else if let Some(table) = names("no such table:") {
            failure.kind = FailureKind::UndefinedTable;
            failure.table = Some(table.rsplit_once('.').map_or(table, |(_, t)| t).to_string());
        } else if message.starts_with("database is locked") {
            failure.kind = FailureKind::SerializationFailure;
        } else if let Some(kind) = driver_kind(server) {
            failure.kind = kind;
        }
        failure
    }
}

impl super::query::QueryHooks for SqliteDialect {
    fn limit_for_offset_only(&self) -> Option<&'static str> {
        Some("-1")
    }

    fn cast_type(&self, ty: &ColumnType) -> String {
        match ty {
            ColumnType::Smallint | ColumnType::Integer | ColumnType::Bigint | ColumnType::Boolean => "INTEGER".into(),
            ColumnType::Real | ColumnType::Double => "REAL".into(),
            ColumnType::Numeric { .. } => "NUMERIC".into(),
            ColumnType::Binary => "BLOB".into(),
            _ => "TEXT".into(),
        }
    }

    fn memo_slot(&self) -> usize {
        2
    }

    fn values_column(&self, n: usize) -> Option<String> {
        Some(format!("column{n}"))
    }

    fn max_parameters(&self) -> usize {
        // SQLITE_MAX_VARIABLE_NUMBER's default since 3.32 (the bundled library is newer).
        32_766
    }

    fn last_insert_id_query(&self) -> &'static str {
        "SELECT last_insert_rowid() AS value"
    }

    fn server_version_query(&self) -> &'static str {
        "SELECT sqlite_version() AS value"
    }

    fn capabilities(&self, version: &str) -> super::query::Capabilities {
        let returning = super::query::version_at_least(version, (3, 35));
        // JSON is built in from 3.38 (before, only with JSON1 compiled in).
        let json = super::query::version_at_least(version, (3, 38));
        super::query::Capabilities {
            returning_insert: returning,
            returning_update: returning,
            returning_delete: returning,
            key_list: if json { super::query::KeyList::JsonEach } else { super::query::KeyList::Padded },
        }
    }

    fn latest_capabilities(&self) -> super::query::Capabilities {
        self.capabilities("3.50")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_ddl_tells_names_checks_and_enums() {
        let parsed = ParsedTable::parse(
            "t",
            r#"CREATE TABLE "t" (
                "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
                "mood" TEXT CONSTRAINT "mood_t" CHECK ("mood" IN ('sad', 'ok')),
                "qty" INTEGER CHECK (qty >= 0),
                "p" INTEGER CONSTRAINT "fk_p" REFERENCES "t" ("id"),
                CONSTRAINT "uq" UNIQUE ("qty", "p"),
                CONSTRAINT "ck" CHECK (qty < 100)
            )"#,
        )
        .unwrap();
        assert_eq!(parsed.autoincrement.as_deref(), Some("id"));
        assert_eq!(parsed.enums["mood"], ("mood_t".to_string(), vec!["sad".to_string(), "ok".to_string()]));
        assert_eq!(
            parsed.checks,
            vec![
                Check { name: None, expression: "qty >= 0".into() },
                Check { name: Some("ck".into()), expression: "qty < 100".into() }
            ]
        );
        assert_eq!(parsed.unique_names[&vec!["qty".to_string(), "p".to_string()]], Some("uq".into()));
        assert_eq!(parsed.foreign_key_names[&(vec!["p".to_string()], "t".to_string())], "fk_p");
        let err = ParsedTable::parse("bad", "CREATE TABLE (").unwrap_err();
        assert!(err.to_string().starts_with("cannot read table bad:"), "{err}");
    }

    #[test]
    fn partial_and_expression_indexes() {
        let index = parse_index("i", r#"CREATE UNIQUE INDEX "i" ON "t" (lower(email), "b") WHERE deleted IS NULL"#);
        let index = index.unwrap();
        assert_eq!(index.keys, vec![IndexKey::Expression("lower(email)".into()), IndexKey::Column("b".into())]);
        assert!(index.unique);
        assert_eq!(index.predicate.as_deref(), Some("deleted IS NULL"));
    }

    #[test]
    fn types_read_back_as_declared() {
        let d = SqliteDialect;
        for ty in [
            "integer",
            "bigint",
            "boolean",
            "double",
            "numeric(10,2)",
            "varchar(20)",
            "char(3)",
            "text",
            "date",
            "time",
            "timestamp",
            "timestamptz",
            "uuid",
            "json",
            "binary",
        ] {
            let ty: ColumnType = ty.parse().unwrap();
            assert_eq!(d.canonical_type(&ty), ty);
        }
        assert_eq!(d.parse_type("INT"), ColumnType::Integer);
        assert_eq!(d.parse_type("geometry"), ColumnType::Raw { sql: "geometry".into() });
    }
}
