//! PostgreSQL: `pg_catalog` reflection in five bulk queries, named enum types,
//! identity columns, `COMMENT ON`.

#[cfg(feature = "postgres")]
mod value;

use super::failure::{driver_kind, quoted_after, redact_after};
use super::render::render_common;
use super::transaction::AccessMode;
use super::{ClassifyFailure, Failure, FailureKind, TransactionOptions, TransactionSql};
use super::{
    Dialect, LockStatements, ReflectError, RenderError, RunLockKind, ServerFacts, column_sql, common_type,
    create_table_sql, enum_columns, parse_default, split_type, strip_outer_parens, wrap_quoted,
};
use crate::db::{Connection, DbError, ServerError};
use crate::ops::{AlterColumn, Op};
use crate::schema::{
    Check, Column, ColumnType, DefaultValue, EnumType, ForeignKey, ForeignKeyAction, Index, IndexKey, NameFilter,
    PrimaryKey, Schema, Table, UniqueConstraint,
};
use std::collections::BTreeMap;

/// The PostgreSQL dialect.
#[derive(Debug, Clone, Copy, Default)]
pub struct PostgresDialect;

/// Separates list items inside one catalog value (names may hold commas).
const SEP: char = '\u{1f}';

text_row!(TableRow { oid, name, comment });
text_row!(ValueRow { value });
text_row!(EnumRow { name, value });
text_row!(ColumnRow {
    table_name,
    position,
    name,
    type_sql,
    type_kind,
    type_name,
    not_null,
    default_sql,
    identity,
    comment
});
text_row!(ConstraintRow {
    table_name,
    name,
    kind,
    definition,
    columns,
    referred_table,
    referred_columns,
    on_delete,
    on_update
});
text_row!(IndexRow { table_name, name, is_unique, predicate, keys, key_count, expressions });

impl Dialect for PostgresDialect {
    fn name(&self) -> &'static str {
        "postgresql"
    }

    fn backend(&self) -> crate::db::Backend {
        crate::db::Backend::Postgres
    }

    fn quote_identifier(&self, ident: &str) -> String {
        wrap_quoted(ident, '"')
    }

    fn quote_string(&self, value: &str) -> String {
        wrap_quoted(value, '\'')
    }

    fn arrays(&self) -> bool {
        true
    }

    fn render_type(&self, ty: &ColumnType) -> String {
        match ty {
            ColumnType::Double => "double precision".into(),
            ColumnType::Json => "jsonb".into(),
            ColumnType::Binary => "bytea".into(),
            ColumnType::Enum { name, .. } => self.quote_identifier(name),
            ColumnType::Raw { sql } => sql.clone(),
            ColumnType::Array(element) => format!("{}[]", self.render_type(element)),
            portable => portable.to_string(),
        }
    }

    fn parse_type(&self, sql: &str) -> ColumnType {
        if let Some(element) = sql.trim().strip_suffix("[]") {
            return match self.parse_type(element) {
                ColumnType::Raw { .. } | ColumnType::Array(_) => ColumnType::Raw { sql: sql.trim().into() },
                element => ColumnType::Array(Box::new(element)),
            };
        }
        let (base, args, tail) = split_type(sql);
        let base = match (base.as_str(), tail.as_str()) {
            ("int2", "") => "smallint",
            ("int" | "int4", "") => "integer",
            ("int8", "") => "bigint",
            ("bool", "") => "boolean",
            ("float4", "") => "real",
            ("float8", "") => "double precision",
            ("bpchar", "") => "character",
            ("time", "without time zone") | ("time without time zone", "") => "time",
            ("timestamp", "without time zone") | ("timestamp without time zone", "") => "timestamp",
            ("timestamp", "with time zone") | ("timestamp with time zone", "") => "timestamptz",
            (base, "") => base,
            _ => "",
        };
        let raw = || ColumnType::Raw { sql: sql.trim().into() };
        match (base, args.as_deref()) {
            ("timestamptz", Some([])) => ColumnType::Timestamptz,
            ("jsonb", Some([])) => ColumnType::Json,
            ("bytea", Some([])) => ColumnType::Binary,
            ("json", _) => raw(),
            (base, Some(args)) => common_type(base, args).unwrap_or_else(raw),
            _ => raw(),
        }
    }

    fn canonical_type(&self, ty: &ColumnType) -> ColumnType {
        match ty {
            ColumnType::Enum { .. } => ty.clone(),
            other => self.parse_type(&self.render_type(other)),
        }
    }

    fn canonical_table(&self, table: &Table) -> Table {
        let mut table = table.clone();
        // `<table>_pkey` is the name PostgreSQL gives a primary key anyway.
        if let Some(pk) = &mut table.primary_key
            && pk.name.as_deref() == Some(&format!("{}_pkey", table.name))
        {
            pk.name = None;
        }
        table
    }

    fn named_enums(&self) -> bool {
        true
    }

    fn commit_before_use(&self, op: &Op) -> bool {
        // "unsafe use of new value": a label added in a transaction cannot be
        // used before it commits.
        matches!(op, Op::AddEnumValue { .. })
    }

    fn expression_parser(&self) -> Box<dyn sqlparser::dialect::Dialect> {
        Box::new(sqlparser::dialect::PostgreSqlDialect {})
    }

    fn render_default(&self, default: &DefaultValue) -> String {
        match default {
            DefaultValue::String(s) => self.quote_string(s),
            other => other.to_text(),
        }
    }

    fn column_definition(&self, column: &Column) -> String {
        let mut sql = column_sql(self, column, &self.render_type(&column.ty), false);
        if column.autoincrement {
            sql.push_str(" GENERATED BY DEFAULT AS IDENTITY");
        }
        sql
    }

    fn create_table(&self, table: &Table) -> Vec<String> {
        let mut statements = vec![create_table_sql(self, table, false)];
        statements.extend(table.indexes.iter().map(|i| self.create_index(&table.name, i)));
        if let Some(comment) = &table.comment {
            statements.push(self.table_comment(&table.name, Some(comment)));
        }
        for column in table.columns.iter().filter(|c| c.comment.is_some()) {
            statements.push(self.column_comment(&table.name, &column.name, column.comment.as_deref()));
        }
        statements
    }

    fn render_op(&self, op: &Op, before: &Schema) -> Result<Vec<String>, RenderError> {
        let q = |name: &str| self.quote_identifier(name);
        Ok(match op {
            Op::AddColumn { table, column } => {
                let mut statements = render_common(self, op)?;
                if column.comment.is_some() {
                    statements.push(self.column_comment(table, &column.name, column.comment.as_deref()));
                }
                statements
            }
            Op::AlterColumn(alter) => self.alter_column(alter),
            Op::RenameTable { from, to } => {
                let mut statements = render_common(self, op)?;
                // A primary key named by default keeps its name through a
                // rename; rename it too, so that it stays `<table>_pkey`.
                if before.table(from).and_then(|t| t.primary_key.as_ref()).is_some_and(|pk| pk.name.is_none()) {
                    let (old, new) = (format!("{from}_pkey"), format!("{to}_pkey"));
                    statements.push(format!("ALTER TABLE {} RENAME CONSTRAINT {} TO {}", q(to), q(&old), q(&new)));
                }
                statements
            }
            Op::DropPrimaryKey { table, primary_key } => {
                let name = primary_key.name.clone().unwrap_or_else(|| format!("{table}_pkey"));
                vec![format!("ALTER TABLE {} DROP CONSTRAINT {}", q(table), q(&name))]
            }
            Op::CreateEnum(enum_type) => self.create_enum(enum_type).into_iter().collect(),
            Op::DropEnum(enum_type) => vec![format!("DROP TYPE {}", q(&enum_type.name))],
            Op::AddEnumValue { name, value, before: Some(next), .. } => {
                let (value, next) = (self.quote_string(value), self.quote_string(next));
                vec![format!("ALTER TYPE {} ADD VALUE IF NOT EXISTS {value} BEFORE {next}", q(name))]
            }
            Op::AddEnumValue { name, value, .. } => {
                vec![format!("ALTER TYPE {} ADD VALUE IF NOT EXISTS {}", q(name), self.quote_string(value))]
            }
            Op::DropEnumValue { name, .. } => {
                // PostgreSQL cannot drop a label: make the type anew and move
                // every column of it over.
                let labels = op.enum_labels_after().expect("enum label ops know their labels");
                let old_name = format!("{name}__migrate_old");
                let mut statements = vec![format!("ALTER TYPE {} RENAME TO {}", q(name), q(&old_name))];
                statements.extend(self.create_enum(&EnumType { name: name.clone(), values: labels }));
                for (table, column) in enum_columns(before, name) {
                    let column_name = q(&column.name);
                    let cast = format!("USING {column_name}::text::{}", q(name));
                    // Partial indexes and checks comparing the column with a
                    // label of the old type would find no operator between
                    // the two types: made again once the column has the new one.
                    let (indexes, checks) = match before.table(table) {
                        Some(t) => dependents(t, &column.name),
                        None => (Vec::new(), Vec::new()),
                    };
                    for index in &indexes {
                        statements.push(format!("DROP INDEX {}", q(&index.name)));
                    }
                    for check in &checks {
                        statements.push(format!("ALTER TABLE {} DROP CONSTRAINT {}", q(table), q(&check.name)));
                    }
                    if column.default.is_some() {
                        statements.push(format!("ALTER TABLE {} ALTER COLUMN {column_name} DROP DEFAULT", q(table)));
                    }
                    statements.push(format!(
                        "ALTER TABLE {} ALTER COLUMN {column_name} TYPE {} {cast}",
                        q(table),
                        q(name)
                    ));
                    if let Some(default) = &column.default {
                        let default = self.render_default(default);
                        statements
                            .push(format!("ALTER TABLE {} ALTER COLUMN {column_name} SET DEFAULT {default}", q(table)));
                    }
                    for check in &checks {
                        statements.push(format!(
                            "ALTER TABLE {} ADD CONSTRAINT {} CHECK ({})",
                            q(table),
                            q(&check.name),
                            check.expression
                        ));
                    }
                    statements.extend(indexes.iter().map(|index| self.create_index(table, index)));
                }
                statements.push(format!("DROP TYPE {}", q(&old_name)));
                statements
            }
            Op::SetTableComment { table, to, .. } => vec![self.table_comment(table, to.as_deref())],
            other => render_common(self, other)?,
        })
    }

    fn create_enum(&self, enum_type: &EnumType) -> Option<String> {
        let values: Vec<String> = enum_type.values.iter().map(|v| self.quote_string(v)).collect();
        Some(format!("CREATE TYPE {} AS ENUM ({})", self.quote_identifier(&enum_type.name), values.join(", ")))
    }

    fn drop_everything(&self, schema: &Schema) -> Vec<String> {
        let q = |name: &String| self.quote_identifier(name);
        let mut statements = Vec::new();
        if !schema.tables.is_empty() {
            let tables: Vec<String> = schema.tables.iter().map(|t| q(&t.name)).collect();
            statements.push(format!("DROP TABLE IF EXISTS {} CASCADE", tables.join(", ")));
        }
        statements.extend(schema.enums.iter().map(|e| format!("DROP TYPE IF EXISTS {} CASCADE", q(&e.name))));
        statements
    }

    fn maintenance_database(&self) -> Option<&'static str> {
        Some("postgres")
    }

    fn create_database(&self, name: &str) -> Option<String> {
        Some(format!("CREATE DATABASE {}", self.quote_identifier(name)))
    }

    fn drop_database(&self, name: &str) -> Option<String> {
        Some(format!("DROP DATABASE IF EXISTS {}", self.quote_identifier(name)))
    }

    fn run_lock(&self, key: &str, _cluster: bool) -> RunLockKind {
        let key = lock_key(key);
        RunLockKind::Session(LockStatements {
            try_lock: format!("SELECT CASE WHEN pg_try_advisory_lock({key}) THEN '1' ELSE '0' END AS value"),
            unlock: format!("SELECT pg_advisory_unlock({key})::text AS value"),
            // The run's DDL is transactional: a dead client's statement
            // that the server finishes is rolled back, and shows nothing.
            holder_lock: None,
        })
    }

    fn sql_parser(&self) -> Box<dyn sqlparser::dialect::Dialect> {
        Box::new(sqlparser::dialect::PostgreSqlDialect {})
    }

    fn clock_sql(&self, seconds: u64) -> String {
        match seconds {
            0 => "(clock_timestamp() AT TIME ZONE 'UTC')".into(),
            n => format!("((clock_timestamp() AT TIME ZONE 'UTC') + interval '{n} seconds')"),
        }
    }

    fn lock_live_sql(&self, key: &str, _cluster: bool) -> String {
        // The advisory lock is the authority: a crashed holder's row stays,
        // its lock does not. A bigint key is split over classid and objid.
        let key = lock_key(key) as u64;
        format!(
            "EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             AND classid = {}::oid AND objid = {}::oid AND objsubid = 1)",
            key >> 32,
            key & 0xffff_ffff
        )
    }

    fn prepare_session(&self, conn: &mut Connection) -> Result<ServerFacts, DbError> {
        let rows: Vec<ValueRow> = conn.load("SELECT CASE WHEN pg_is_in_recovery() THEN '1' ELSE '0' END AS value")?;
        let standby = rows.first().and_then(|r| r.value.as_deref()) == Some("1");
        Ok(ServerFacts { cluster: None, read_only_standby: standby })
    }

    fn reflect(&self, conn: &mut Connection, filter: &NameFilter) -> Result<Schema, ReflectError> {
        let table_rows: Vec<TableRow> = conn.load(
            "SELECT c.oid::text AS oid, c.relname::text AS name, ds.description AS comment \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_description ds \
               ON ds.objoid = c.oid AND ds.classoid = 'pg_class'::regclass AND ds.objsubid = 0 \
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition",
        )?;
        let mut oids = Vec::new();
        let mut tables: BTreeMap<String, Table> = table_rows
            .into_iter()
            .filter_map(|row| {
                let name = row.name?;
                filter.matches(&name).then(|| {
                    oids.extend(row.oid);
                    let mut table = Table::new(name.clone());
                    table.comment = row.comment.filter(|c| !c.is_empty());
                    (name, table)
                })
            })
            .collect();

        let enum_rows: Vec<EnumRow> = conn.load(
            "SELECT t.typname::text AS name, e.enumlabel::text AS value \
             FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace \
             WHERE n.nspname = current_schema() ORDER BY t.typname, e.enumsortorder",
        )?;
        let mut enums: Vec<EnumType> = Vec::new();
        for row in enum_rows {
            let (name, value) = (row.name.unwrap_or_default(), row.value.unwrap_or_default());
            match enums.last_mut() {
                Some(last) if last.name == name => last.values.push(value),
                _ => enums.push(EnumType { name, values: vec![value] }),
            }
        }
        if tables.is_empty() {
            return Ok(Schema { tables: Vec::new(), enums });
        }

        // The kept tables by oid: numbers the catalog gave, nothing to quote.
        let scope = format!("c.oid IN ({})", oids.join(", "));
        let positions = self.reflect_columns(conn, &scope, &enums, &mut tables)?;
        self.reflect_constraints(conn, &scope, &positions, &mut tables)?;
        self.reflect_indexes(conn, &scope, &positions, &mut tables)?;

        let mut schema = Schema { tables: tables.into_values().collect(), enums };
        schema.normalize();
        Ok(schema)
    }
}

impl PostgresDialect {
    fn table_comment(&self, table: &str, comment: Option<&str>) -> String {
        let text = comment.map_or("NULL".to_string(), |c| self.quote_string(c));
        format!("COMMENT ON TABLE {} IS {text}", self.quote_identifier(table))
    }

    fn column_comment(&self, table: &str, column: &str, comment: Option<&str>) -> String {
        let text = comment.map_or("NULL".to_string(), |c| self.quote_string(c));
        format!("COMMENT ON COLUMN {}.{} IS {text}", self.quote_identifier(table), self.quote_identifier(column))
    }

    /// One statement per changed property, the rename last. A type change
    /// takes the default off first: it may not cast.
    fn alter_column(&self, alter: &AlterColumn) -> Vec<String> {
        let table = self.quote_identifier(&alter.table);
        let column = self.quote_identifier(&alter.column);
        let prefix = format!("ALTER TABLE {table} ALTER COLUMN {column}");
        let altered = alter.altered();
        let mut statements = Vec::new();
        let mut default = alter.default.clone();
        if let Some(ty) = &alter.ty {
            if alter.existing.default.is_some() {
                statements.push(format!("{prefix} DROP DEFAULT"));
                default = Some(altered.default.clone());
            }
            let ty = self.render_type(ty);
            statements.push(format!("{prefix} TYPE {ty} USING {column}::{ty}"));
        }
        if let Some(nullable) = alter.nullable {
            statements.push(format!("{prefix} {} NOT NULL", if nullable { "DROP" } else { "SET" }));
        }
        match default {
            Some(Some(value)) => statements.push(format!("{prefix} SET DEFAULT {}", self.render_default(&value))),
            Some(None) if alter.ty.is_none() || alter.existing.default.is_none() => {
                statements.push(format!("{prefix} DROP DEFAULT"))
            }
            _ => {}
        }
        if let Some(comment) = &alter.comment {
            statements.push(self.column_comment(&alter.table, &alter.column, comment.as_deref()));
        }
        if let Some(name) = &alter.rename {
            statements.push(format!("ALTER TABLE {table} RENAME COLUMN {column} TO {}", self.quote_identifier(name)));
        }
        statements
    }

    fn reflect_columns(
        &self,
        conn: &mut Connection,
        scope: &str,
        enums: &[EnumType],
        tables: &mut BTreeMap<String, Table>,
    ) -> Result<ColumnPositions, ReflectError> {
        let rows: Vec<ColumnRow> = conn.load(&format!(
            "SELECT c.relname::text AS table_name, a.attnum::text AS position, a.attname::text AS name, \
               format_type(a.atttypid, a.atttypmod) AS type_sql, t.typtype::text AS type_kind, \
               t.typname::text AS type_name, a.attnotnull::text AS not_null, \
               pg_get_expr(d.adbin, d.adrelid) AS default_sql, a.attidentity::text AS identity, \
               ds.description AS comment \
             FROM pg_attribute a \
             JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_type t ON t.oid = a.atttypid \
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             LEFT JOIN pg_description ds \
               ON ds.objoid = a.attrelid AND ds.classoid = 'pg_class'::regclass AND ds.objsubid = a.attnum \
             WHERE {scope} AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attrelid, a.attnum"
        ))?;
        let mut positions = ColumnPositions::new();
        for row in rows {
            let Some(table) = row.table_name.and_then(|t| tables.get_mut(&t)) else { continue };
            let name = row.name.unwrap_or_default();
            if let Some(position) = row.position {
                positions.insert((table.name.clone(), position), name.clone());
            }
            let type_name = row.type_name.unwrap_or_default();
            let ty = match (row.type_kind.as_deref(), enums.iter().find(|e| e.name == type_name)) {
                (Some("e"), Some(e)) => ColumnType::Enum { name: e.name.clone(), values: e.values.clone() },
                _ => self.parse_type(row.type_sql.as_deref().unwrap_or_default()),
            };
            let mut column = Column::new(name, ty);
            column.nullable = row.not_null.as_deref() != Some("true");
            column.comment = row.comment.filter(|c| !c.is_empty());
            let default_sql = row.default_sql.unwrap_or_default();
            if row.identity.as_deref().is_some_and(|i| !i.is_empty()) || default_sql.starts_with("nextval(") {
                column.autoincrement = true;
            } else {
                column.default = parse_default(&strip_casts(&default_sql), &column.ty);
            }
            table.columns.push(column);
        }
        Ok(positions)
    }

    fn reflect_constraints(
        &self,
        conn: &mut Connection,
        scope: &str,
        positions: &ColumnPositions,
        tables: &mut BTreeMap<String, Table>,
    ) -> Result<(), ReflectError> {
        // The constrained columns come as attribute numbers (`{1,2}`), named
        // from the columns already read; the referred ones, of a table that
        // may not be reflected, by a lookup done for foreign keys only.
        let rows: Vec<ConstraintRow> = conn.load(&format!(
            "SELECT c.relname::text AS table_name, con.conname::text AS name, con.contype::text AS kind, \
               CASE WHEN con.contype = 'c' THEN pg_get_constraintdef(con.oid) END AS definition, \
               con.conkey::text AS columns, fc.relname::text AS referred_table, \
               CASE WHEN con.contype = 'f' THEN (SELECT string_agg(a.attname::text, chr(31) ORDER BY k.i) \
                  FROM unnest(con.confkey) WITH ORDINALITY AS k(num, i) \
                  JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num) END AS referred_columns, \
               con.confdeltype::text AS on_delete, con.confupdtype::text AS on_update \
             FROM pg_constraint con \
             JOIN pg_class c ON c.oid = con.conrelid \
             LEFT JOIN pg_class fc ON fc.oid = con.confrelid \
             WHERE {scope} AND con.contype IN ('p', 'u', 'f', 'c') ORDER BY con.conrelid, con.conname"
        ))?;
        for row in rows {
            let Some(table) = row.table_name.and_then(|t| tables.get_mut(&t)) else { continue };
            let name = row.name.unwrap_or_default();
            let numbers = row.columns.unwrap_or_default();
            let columns: Vec<String> = numbers
                .trim_matches(|c| c == '{' || c == '}')
                .split(',')
                .filter(|n| !n.is_empty())
                .filter_map(|n| positions.get(&(table.name.clone(), n.trim().to_string())).cloned())
                .collect();
            match row.kind.as_deref() {
                Some("p") => {
                    let name = (name != format!("{}_pkey", table.name)).then_some(name);
                    table.primary_key = Some(PrimaryKey { name, columns });
                }
                Some("u") => table.unique_constraints.push(UniqueConstraint { name: Some(name), columns }),
                Some("f") => table.foreign_keys.push(ForeignKey {
                    name: Some(name),
                    columns,
                    referred_table: row.referred_table.unwrap_or_default(),
                    referred_columns: split_list(row.referred_columns.as_deref()),
                    on_delete: action(row.on_delete.as_deref()),
                    on_update: action(row.on_update.as_deref()),
                }),
                _ => {
                    let definition = row.definition.unwrap_or_default();
                    let body = definition.trim().trim_end_matches(" NOT VALID").trim_end_matches(" NO INHERIT");
                    let expression = body.strip_prefix("CHECK").unwrap_or(body);
                    table.checks.push(Check { name: Some(name), expression: strip_outer_parens(expression).into() });
                }
            }
        }
        Ok(())
    }

    fn reflect_indexes(
        &self,
        conn: &mut Connection,
        scope: &str,
        positions: &ColumnPositions,
        tables: &mut BTreeMap<String, Table>,
    ) -> Result<(), ReflectError> {
        // Each key is `c:name` for a column or `e:expression`; indexes that
        // back a primary key, unique or exclusion constraint are not indexes
        // of their own (NOT EXISTS: as a LEFT JOIN anti-join it took ten
        // times as long on 1,000 tables).
        // Key columns come as attribute numbers (`2 5`; 0 for an expression),
        // named from the columns already read; expressions are deparsed only
        // for indexes that have some.
        let rows: Vec<IndexRow> = conn.load(&format!(
            "SELECT c.relname::text AS table_name, i.relname::text AS name, ix.indisunique::text AS is_unique, \
               pg_get_expr(ix.indpred, ix.indrelid) AS predicate, ix.indkey::text AS keys, \
               ix.indnkeyatts::text AS key_count, \
               CASE WHEN 0 = ANY (ix.indkey::int2[]) THEN \
                 (SELECT string_agg(pg_get_indexdef(ix.indexrelid, k + 1, true), chr(31) ORDER BY k) \
                  FROM generate_series(0, ix.indnkeyatts - 1) AS k WHERE ix.indkey[k] = 0) END AS expressions \
             FROM pg_index ix \
             JOIN pg_class i ON i.oid = ix.indexrelid \
             JOIN pg_class c ON c.oid = ix.indrelid \
             WHERE {scope} AND NOT EXISTS (SELECT 1 FROM pg_constraint con \
               WHERE con.conindid = ix.indexrelid AND con.contype IN ('p', 'u', 'x')) \
             ORDER BY ix.indrelid, i.relname"
        ))?;
        for row in rows {
            let Some(table) = row.table_name.and_then(|t| tables.get_mut(&t)) else { continue };
            let mut expressions = split_list(row.expressions.as_deref()).into_iter();
            let count: usize = row.key_count.and_then(|k| k.parse().ok()).unwrap_or(0);
            let keys = row
                .keys
                .unwrap_or_default()
                .split_whitespace()
                .take(count)
                .map(|number| match number {
                    "0" => IndexKey::Expression(strip_outer_parens(&expressions.next().unwrap_or_default()).into()),
                    n => IndexKey::Column(
                        positions.get(&(table.name.clone(), n.to_string())).cloned().unwrap_or_default(),
                    ),
                })
                .collect();
            table.indexes.push(Index {
                name: row.name.unwrap_or_default(),
                keys,
                unique: row.is_unique.as_deref() == Some("true"),
                predicate: row.predicate.map(|p| strip_outer_parens(&p).to_string()),
            });
        }
        Ok(())
    }
}

/// A named check (a rebuild drops and adds it by name).
struct NamedCheck {
    name: String,
    expression: String,
}

/// The indexes (partial, or on an expression) and named checks of `table`
/// whose SQL mentions `column`: they hold its type in their expressions.
fn dependents(table: &Table, column: &str) -> (Vec<Index>, Vec<NamedCheck>) {
    let mentions = |sql: &str| crate::ops::mentions(sql, column);
    let indexes = table
        .indexes
        .iter()
        .filter(|i| {
            i.predicate.as_deref().is_some_and(mentions)
                || i.keys.iter().any(|k| matches!(k, IndexKey::Expression(e) if mentions(e)))
        })
        .cloned()
        .collect();
    let checks = table
        .checks
        .iter()
        .filter(|c| mentions(&c.expression))
        .filter_map(|c| Some(NamedCheck { name: c.name.clone()?, expression: c.expression.clone() }))
        .collect();
    (indexes, checks)
}

/// A stable 64-bit advisory-lock key for a name (FNV-1a).
fn lock_key(name: &str) -> i64 {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// (table, attribute number) -> column name.
type ColumnPositions = std::collections::HashMap<(String, String), String>;

/// Items of a list aggregated with [`SEP`].
fn split_list(value: Option<&str>) -> Vec<String> {
    value.map(|v| v.split(SEP).map(String::from).collect()).unwrap_or_default()
}

/// A foreign-key action from `pg_constraint`'s one-letter code; `a` (no
/// action) is none.
fn action(code: Option<&str>) -> Option<ForeignKeyAction> {
    match code? {
        "r" => Some(ForeignKeyAction::Restrict),
        "c" => Some(ForeignKeyAction::Cascade),
        "n" => Some(ForeignKeyAction::SetNull),
        "d" => Some(ForeignKeyAction::SetDefault),
        _ => None,
    }
}

/// Drops the casts PostgreSQL adds to a literal default: `'a'::character
/// varying` reads back as `'a'`, `'-1'::integer` as `'-1'` (a number once
/// fitted to the column type).
fn strip_casts(sql: &str) -> String {
    let text = strip_outer_parens(sql);
    if text.starts_with("NULL::") {
        return "NULL".into();
    }
    if text.starts_with('\'') {
        let mut end = None;
        let mut chars = text.char_indices().skip(1).peekable();
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                if chars.peek().is_some_and(|&(_, next)| next == '\'') {
                    chars.next();
                } else {
                    end = Some(i);
                    break;
                }
            }
        }
        // Only a literal with one cast and nothing after it (`'a'::text ||
        // 'b'::text` is an expression).
        let cast_only = |rest: &str| {
            rest.strip_prefix("::").is_some_and(|ty| {
                ty.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '"' | '(' | ')' | ','))
            })
        };
        if let Some(end) = end
            && cast_only(&text[end + 1..])
        {
            return text[..=end].to_string();
        }
    }
    text.to_string()
}

impl TransactionSql for PostgresDialect {
    fn begin_transaction(&self, options: &TransactionOptions) -> Vec<String> {
        let mut modes = Vec::new();
        if let Some(level) = options.isolation {
            modes.push(format!("ISOLATION LEVEL {}", level.sql()));
        }
        if options.access == AccessMode::ReadOnly {
            modes.push("READ ONLY".to_string());
        }
        match modes.is_empty() {
            true => vec!["BEGIN".to_string()],
            false => vec![format!("BEGIN {}", modes.join(", "))],
        }
    }
}

impl ClassifyFailure for PostgresDialect {
    fn classify_failure(&self, message: &str, server: Option<&ServerError>) -> Failure {
        // Values are quoted after a colon (`invalid input syntax for type
        // integer: "x"`) or after `value`; names after a noun. DETAIL, which
        // quotes whole rows and keys, is never read.
        let redacted = redact_after(message, &[": ", "value "], '"');
        let kind = driver_kind(server).unwrap_or_else(|| {
            if message.starts_with("relation ") && message.ends_with(" does not exist") {
                FailureKind::UndefinedTable
            } else if message.starts_with("deadlock detected") {
                FailureKind::SerializationFailure
            } else {
                FailureKind::Other
            }
        });
        let mut failure = Failure::new(kind, redacted);
        failure.table = server.and_then(|s| s.table.clone());
        failure.constraint = server.and_then(|s| s.constraint.clone());
        failure.columns = server.and_then(|s| s.column.clone()).into_iter().collect();
        if kind == FailureKind::UndefinedTable {
            failure.table = quoted_after(message, "relation", '"', '"');
        }
        failure
    }
}

impl super::query::QueryHooks for PostgresDialect {
    fn placeholder(&self, out: &mut String, n: usize) {
        use std::fmt::Write as _;
        let _ = write!(out, "${n}");
    }

    fn has_ilike(&self) -> bool {
        true
    }

    fn cast_type(&self, ty: &ColumnType) -> String {
        self.render_type(ty)
    }

    fn memo_slot(&self) -> usize {
        0
    }

    fn values_column(&self, n: usize) -> Option<String> {
        Some(format!("column{n}"))
    }

    fn casts_ordered_insert_columns(&self) -> bool {
        true
    }

    fn server_version_query(&self) -> &'static str {
        "SELECT version() AS value"
    }

    fn capabilities(&self, _version: &str) -> super::query::Capabilities {
        self.latest_capabilities()
    }

    fn latest_capabilities(&self) -> super::query::Capabilities {
        // Every supported release (10 and later) has RETURNING everywhere,
        // and arrays.
        super::query::Capabilities {
            returning_insert: true,
            returning_update: true,
            returning_delete: true,
            key_list: super::query::KeyList::Array,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_synonyms() {
        let d = PostgresDialect;
        for (sql, ty) in [
            ("int4", ColumnType::Integer),
            ("integer", ColumnType::Integer),
            ("character varying(20)", ColumnType::Varchar { length: Some(20) }),
            ("timestamp without time zone", ColumnType::Timestamp),
            ("timestamp with time zone", ColumnType::Timestamptz),
            ("double precision", ColumnType::Double),
            ("numeric(10,2)", ColumnType::Numeric { precision: Some(10), scale: Some(2) }),
            ("character(3)", ColumnType::Char { length: Some(3) }),
            ("jsonb", ColumnType::Json),
            ("bytea", ColumnType::Binary),
            ("inet", ColumnType::Raw { sql: "inet".into() }),
            ("timestamp(3) without time zone", ColumnType::Raw { sql: "timestamp(3) without time zone".into() }),
        ] {
            assert_eq!(d.parse_type(sql), ty, "{sql}");
        }
    }

    #[test]
    fn quoting_cannot_be_escaped() {
        let d = PostgresDialect;
        assert_eq!(d.quote_identifier(r#"a"; DROP TABLE x; --"#), r#""a""; DROP TABLE x; --""#);
        assert_eq!(d.quote_string("it's"), "'it''s'");
    }

    #[test]
    fn defaults_lose_their_casts() {
        assert_eq!(strip_casts("'draft'::character varying"), "'draft'");
        assert_eq!(strip_casts("'it''s'::text"), "'it''s'");
        assert_eq!(strip_casts("now()"), "now()");
        assert_eq!(strip_casts("('a'::text || 'b'::text)"), "'a'::text || 'b'::text");
        assert_eq!(strip_casts("'x'::character varying(20)"), "'x'");
        let ty = ColumnType::Integer;
        assert_eq!(parse_default(&strip_casts("'-1'::integer"), &ty), Some(DefaultValue::Number("-1".into())));
        assert_eq!(parse_default(&strip_casts("NULL::character varying"), &ty), None);
    }
}
