//! MariaDB and MySQL: `information_schema` reflection in five bulk queries,
//! column-level enums, `AUTO_INCREMENT`, inline comments.

#[cfg(feature = "mysql")]
mod value;

use super::failure::{driver_kind, quoted_after, redact_after};
use super::render::{named, render_common, unsupported};
use super::transaction::AccessMode;
use super::{ClassifyFailure, Failure, FailureKind, TransactionOptions, TransactionSql};
use super::{
    Cluster, Dialect, LockStatements, ReflectError, RenderError, RunLockKind, SchemaUpgrades, ServerFacts, column_list,
    column_sql, common_type, create_index_sql, create_table_sql, enum_columns, fit_default, parse_default, split_type,
    sql_name_list, strip_outer_parens, unquote_plain_identifiers, wrap_quoted,
};
use crate::db::{Connection, DbError, ServerError};
use crate::ops::Op;
use crate::schema::{
    Check, Column, ColumnType, DefaultValue, ForeignKey, ForeignKeyAction, Index, IndexKey, NameFilter, PrimaryKey,
    Schema, Table, UniqueConstraint,
};
use std::collections::BTreeMap;

/// The MariaDB/MySQL dialect.
#[derive(Debug, Clone, Copy, Default)]
pub struct MysqlDialect;

text_row!(TableRow { name, comment, version });
text_row!(ColumnRow { table_name, name, column_type, nullable, default_sql, extra, comment });
text_row!(IndexRow { table_name, name, non_unique, column_name });
text_row!(ForeignKeyRow { table_name, name, column_name, referred_table, referred_column });
text_row!(RuleRow { table_name, name, on_delete, on_update });
text_row!(CheckRow { table_name, name, clause });

/// A row of `SHOW VARIABLES` / `SHOW STATUS`.
#[derive(diesel::QueryableByName)]
struct VariableRow {
    #[diesel(sql_type = diesel::sql_types::Text, column_name = "Variable_name")]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Text, column_name = "Value")]
    value: String,
}

impl Dialect for MysqlDialect {
    fn name(&self) -> &'static str {
        "mysql"
    }

    fn backend(&self) -> crate::db::Backend {
        crate::db::Backend::Mysql
    }

    fn quote_identifier(&self, ident: &str) -> String {
        wrap_quoted(ident, '`')
    }

    fn quote_string(&self, value: &str) -> String {
        // Backslash is an escape character in MySQL string literals.
        wrap_quoted(&value.replace('\\', "\\\\"), '\'')
    }

    fn render_type(&self, ty: &ColumnType) -> String {
        match ty {
            ColumnType::Integer => "int".into(),
            ColumnType::Boolean => "tinyint(1)".into(),
            ColumnType::Real => "float".into(),
            ColumnType::Double => "double".into(),
            ColumnType::Numeric { precision: None, .. } => "decimal".into(),
            ColumnType::Numeric { precision: Some(p), scale } => format!("decimal({p},{})", scale.unwrap_or(0)),
            ColumnType::Varchar { length } => format!("varchar({})", length.unwrap_or(255)),
            ColumnType::Char { length } => format!("char({})", length.unwrap_or(1)),
            ColumnType::Timestamp => "datetime".into(),
            ColumnType::Timestamptz => "timestamp".into(),
            ColumnType::Uuid => "char(36)".into(),
            ColumnType::Binary => "longblob".into(),
            ColumnType::Enum { values, .. } => {
                let values: Vec<String> = values.iter().map(|v| self.quote_string(v)).collect();
                format!("enum({})", values.join(","))
            }
            ColumnType::Raw { sql } => sql.clone(),
            portable => portable.to_string(),
        }
    }

    fn parse_type(&self, sql: &str) -> ColumnType {
        let (base, args, tail) = split_type(sql);
        let raw = || ColumnType::Raw { sql: sql.trim().into() };
        if !tail.is_empty() {
            return raw(); // `unsigned`, `zerofill`
        }
        if base == "enum" {
            let inner = sql.trim().get(5..sql.trim().len() - 1).unwrap_or_default();
            return ColumnType::Enum { name: String::new(), values: parse_enum_values(inner) };
        }
        let Some(args) = args else { return raw() };
        let ty = match (base.as_str(), args.as_slice()) {
            ("tinyint", [1]) | ("bool" | "boolean", []) => Some(ColumnType::Boolean),
            ("smallint", [_]) => Some(ColumnType::Smallint),
            ("int" | "integer", [_] | []) => Some(ColumnType::Integer),
            ("bigint", [_]) => Some(ColumnType::Bigint),
            ("float", []) => Some(ColumnType::Real),
            ("double" | "double precision" | "real", []) => Some(ColumnType::Double),
            ("decimal" | "numeric", []) => Some(ColumnType::Numeric { precision: Some(10), scale: Some(0) }),
            ("datetime", []) => Some(ColumnType::Timestamp),
            ("timestamp", []) => Some(ColumnType::Timestamptz),
            ("longblob", []) => Some(ColumnType::Binary),
            ("timestamptz" | "uuid", _) | ("varchar", []) => None,
            (base, args) => common_type(base, args),
        };
        ty.unwrap_or_else(raw)
    }

    fn canonical_type(&self, ty: &ColumnType) -> ColumnType {
        match ty {
            // Enums have no name of their own here: reflection names them
            // after their column.
            ColumnType::Enum { .. } => ty.clone(),
            other => self.parse_type(&self.render_type(other)),
        }
    }

    fn canonical_table(&self, table: &Table) -> Table {
        let mut table = table.clone();
        // A unique index is a unique constraint here; there are no partial
        // indexes; RESTRICT is the default action; the primary key has no name
        // of its own; enums are named after their column.
        let (unique, indexes): (Vec<Index>, Vec<Index>) = table
            .indexes
            .drain(..)
            .map(|i| Index { predicate: None, ..i })
            .partition(|i| i.unique && i.keys.iter().all(|k| matches!(k, IndexKey::Column(_))));
        table.indexes = indexes;
        for index in unique {
            let columns =
                index.keys.into_iter().filter_map(|k| if let IndexKey::Column(c) = k { Some(c) } else { None });
            table.unique_constraints.push(UniqueConstraint { name: Some(index.name), columns: columns.collect() });
        }
        for fk in &mut table.foreign_keys {
            fk.on_delete = fk.on_delete.filter(|a| *a != ForeignKeyAction::Restrict);
            fk.on_update = fk.on_update.filter(|a| *a != ForeignKeyAction::Restrict);
        }
        if let Some(pk) = &mut table.primary_key {
            pk.name = None;
        }
        for column in &mut table.columns {
            if let ColumnType::Enum { name, .. } = &mut column.ty {
                name.clone_from(&column.name);
            }
        }
        table
    }

    fn expression_parser(&self) -> Box<dyn sqlparser::dialect::Dialect> {
        Box::new(sqlparser::dialect::MySqlDialect {})
    }

    fn portable_function(&self, name: &str) -> Option<&'static str> {
        // What MariaDB stores `lower`, `upper` and `length` as.
        match name {
            "lcase" => Some("lower"),
            "ucase" => Some("upper"),
            "octet_length" => Some("length"),
            _ => None,
        }
    }

    fn render_default(&self, default: &DefaultValue) -> String {
        match default {
            DefaultValue::String(s) => self.quote_string(s),
            DefaultValue::Boolean(b) => u8::from(*b).to_string(),
            DefaultValue::CurrentTimestamp => "CURRENT_TIMESTAMP".into(),
            DefaultValue::CurrentDate => "(CURRENT_DATE)".into(),
            DefaultValue::CurrentTime => "(CURRENT_TIME)".into(),
            DefaultValue::Expression(e) => format!("({e})"),
            DefaultValue::Number(n) => n.clone(),
        }
    }

    fn column_definition(&self, column: &Column) -> String {
        // An explicit NULL, so that a `timestamp` column is nullable whatever
        // `explicit_defaults_for_timestamp` says.
        let mut sql = column_sql(self, column, &self.render_type(&column.ty), true);
        if column.autoincrement {
            sql.push_str(" AUTO_INCREMENT");
        }
        if let Some(comment) = &column.comment {
            sql.push_str(&format!(" COMMENT {}", self.quote_string(comment)));
        }
        sql
    }

    fn partial_indexes(&self) -> bool {
        false
    }

    fn cannot_run(&self, op: &Op) -> Option<String> {
        if let Some(refusal) = super::array_refusal(self, op) {
            return Some(refusal);
        }
        // A `create_index` op's label names its index already.
        let (indexes, named): (Vec<&Index>, bool) = match op {
            Op::CreateIndex { index, .. } => (vec![index], false),
            Op::CreateTable(table) => (table.indexes.iter().collect(), true),
            _ => return None,
        };
        indexes.into_iter().find_map(|index| {
            let why = if index.unique && index.predicate.is_some() {
                // Without its WHERE, a unique index would refuse rows it allows.
                "no partial indexes here, and a unique one cannot drop its `where`"
            } else if index.keys.iter().any(|k| matches!(k, IndexKey::Expression(_))) {
                // MariaDB has none; MySQL's are not read back by this tool.
                "no expression (functional) indexes here"
            } else {
                return None;
            };
            Some(if named { format!("index `{}`: {why}", index.name) } else { why.to_string() })
        })
    }

    fn create_index(&self, table: &str, index: &Index) -> String {
        // No partial indexes; functional keys take two pairs of parentheses.
        let keys = index.keys.iter().map(|key| match key {
            IndexKey::Expression(expr) => IndexKey::Expression(format!("({expr})")),
            column => column.clone(),
        });
        create_index_sql(self, table, &Index { keys: keys.collect(), predicate: None, ..index.clone() })
    }

    fn create_table(&self, table: &Table) -> Vec<String> {
        let mut create = create_table_sql(self, table, false);
        if let Some(comment) = &table.comment {
            create.push_str(&format!(" COMMENT={}", self.quote_string(comment)));
        }
        let mut statements = vec![create];
        statements.extend(table.indexes.iter().map(|i| self.create_index(&table.name, i)));
        statements
    }

    fn render_op(&self, op: &Op, before: &Schema) -> Result<Vec<String>, RenderError> {
        let q = |name: &str| self.quote_identifier(name);
        let alter = |table: &str, action: String| vec![format!("ALTER TABLE {} {action}", q(table))];
        if let Some(message) = self.cannot_run(op) {
            return Err(unsupported(self, op, &message));
        }
        Ok(match op {
            Op::AlterColumn(a) => {
                alter(&a.table, format!("CHANGE COLUMN {} {}", q(&a.column), self.column_definition(&a.altered())))
            }
            Op::DropIndex { table, index } => vec![format!("DROP INDEX {} ON {}", q(&index.name), q(table))],
            Op::DropUnique { table, constraint } => {
                alter(table, format!("DROP INDEX {}", q(named(self, op, &constraint.name)?)))
            }
            Op::DropForeignKey { table, foreign_key } => {
                let name = q(named(self, op, &foreign_key.name)?);
                // InnoDB made an index of the same name for a key no index served.
                match before.table(table) {
                    Some(t) if !indexed(t, &foreign_key.columns) => {
                        alter(table, format!("DROP FOREIGN KEY {name}, DROP INDEX {name}"))
                    }
                    _ => alter(table, format!("DROP FOREIGN KEY {name}")),
                }
            }
            Op::AddPrimaryKey { table, primary_key } => {
                // MySQL's primary key is always called PRIMARY.
                alter(table, format!("ADD PRIMARY KEY ({})", column_list(self, &primary_key.columns)))
            }
            Op::DropPrimaryKey { table, .. } => alter(table, "DROP PRIMARY KEY".into()),
            Op::CreateEnum(_) | Op::DropEnum(_) => Vec::new(),
            Op::AddEnumValue { name, columns, .. } | Op::DropEnumValue { name, columns, .. } => {
                let values = op.enum_labels_after().expect("enum label ops know their labels");
                let mut statements = Vec::new();
                for (table, column) in enum_columns_named(before, name, columns) {
                    let column =
                        Column { ty: ColumnType::Enum { name: name.clone(), values: values.clone() }, ..column };
                    statements.extend(alter(&table, format!("MODIFY COLUMN {}", self.column_definition(&column))));
                }
                statements
            }
            Op::SetTableComment { table, to, .. } => {
                alter(table, format!("COMMENT = {}", self.quote_string(to.as_deref().unwrap_or_default())))
            }
            other => render_common(self, other)?,
        })
    }

    fn drop_everything(&self, schema: &Schema) -> Vec<String> {
        // Foreign-key checks are per session: off for these statements only.
        let drops = schema.tables.iter().map(|t| format!("DROP TABLE IF EXISTS {}", self.quote_identifier(&t.name)));
        let mut statements = vec!["SET FOREIGN_KEY_CHECKS = 0".to_string()];
        statements.extend(drops);
        statements.push("SET FOREIGN_KEY_CHECKS = 1".into());
        statements
    }

    fn maintenance_database(&self) -> Option<&'static str> {
        Some("information_schema")
    }

    fn create_database(&self, name: &str) -> Option<String> {
        Some(format!("CREATE DATABASE {} CHARACTER SET utf8mb4", self.quote_identifier(name)))
    }

    fn drop_database(&self, name: &str) -> Option<String> {
        Some(format!("DROP DATABASE IF EXISTS {}", self.quote_identifier(name)))
    }

    fn run_lock(&self, key: &str, cluster: bool) -> RunLockKind {
        // GET_LOCK is node-local on a Galera cluster; a row is replicated.
        // On one server the named lock goes the moment its holder dies, where
        // a lease would keep the next run waiting.
        if cluster {
            return RunLockKind::LeaseRow;
        }
        let name = lock_name(self, key);
        RunLockKind::Session(LockStatements {
            try_lock: format!("SELECT CAST(GET_LOCK({name}, 0) AS CHAR) AS value"),
            unlock: format!("SELECT CAST(RELEASE_LOCK({name}) AS CHAR) AS value"),
            // The server frees a killed client's locks only once the
            // statement it runs ends; an idle connection's go at once. A
            // holder that died just before may hold it a moment longer.
            holder_lock: Some(format!("SELECT CAST(GET_LOCK({}, 10) AS CHAR) AS value", holder_lock_name(self, key))),
        })
    }

    fn lock_live_sql(&self, key: &str, cluster: bool) -> String {
        if cluster {
            return format!("{} >= {}", self.quote_identifier("expires_at"), self.clock_sql(0));
        }
        format!(
            "IS_USED_LOCK({}) IS NOT NULL AND IS_USED_LOCK({}) IS NOT NULL",
            lock_name(self, key),
            holder_lock_name(self, key)
        )
    }

    fn clock_sql(&self, seconds: u64) -> String {
        match seconds {
            0 => "UTC_TIMESTAMP(6)".into(),
            n => format!("(UTC_TIMESTAMP(6) + INTERVAL {n} SECOND)"),
        }
    }

    fn prepare_session(&self, conn: &mut Connection) -> Result<ServerFacts, DbError> {
        let variables: Vec<VariableRow> = conn
            .load("SHOW VARIABLES WHERE Variable_name IN ('wsrep_on', 'wsrep_osu_method', 'wsrep_cluster_address')")?;
        let value = |name: &str| {
            variables.iter().find(|v| v.name.eq_ignore_ascii_case(name)).map(|v| v.value.clone()).unwrap_or_default()
        };
        if !value("wsrep_on").eq_ignore_ascii_case("ON") {
            return Ok(ServerFacts::default());
        }
        // Reads and the lock row's and version table's updates wait until
        // this node has applied what the cluster committed before them.
        conn.execute("SET SESSION wsrep_sync_wait = 3")?;
        let status: Vec<VariableRow> = conn.load("SHOW STATUS WHERE Variable_name = 'wsrep_cluster_size'")?;
        let size = status.first().and_then(|s| s.value.parse().ok()).unwrap_or(1);
        let schema_upgrades = if value("wsrep_osu_method").eq_ignore_ascii_case("RSU") {
            SchemaUpgrades::Rolling
        } else {
            SchemaUpgrades::TotalOrder
        };
        Ok(ServerFacts { cluster: Some(Cluster { size, schema_upgrades }), read_only_standby: false })
    }

    fn transactional_ddl(&self) -> bool {
        false
    }

    fn begin(&self) -> &'static str {
        "START TRANSACTION"
    }

    fn sql_parser(&self) -> Box<dyn sqlparser::dialect::Dialect> {
        Box::new(sqlparser::dialect::MySqlDialect {})
    }

    fn reflect(&self, conn: &mut Connection, filter: &NameFilter) -> Result<Schema, ReflectError> {
        let table_rows: Vec<TableRow> = conn.load(
            "SELECT TABLE_NAME AS name, TABLE_COMMENT AS comment, VERSION() AS version \
             FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'",
        )?;
        let mariadb = table_rows.first().and_then(|r| r.version.as_deref()).is_some_and(|v| v.contains("MariaDB"));
        let mut tables: BTreeMap<String, Table> = table_rows
            .into_iter()
            .filter_map(|row| {
                let name = row.name?;
                filter.matches(&name).then(|| {
                    let mut table = Table::new(name.clone());
                    table.comment = row.comment.filter(|c| !c.is_empty());
                    (name, table)
                })
            })
            .collect();
        if tables.is_empty() {
            return Ok(Schema::default());
        }
        let names: Vec<String> = tables.keys().cloned().collect();
        let scope = format!("TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ({})", sql_name_list(self, &names));

        self.reflect_columns(conn, &scope, mariadb, &mut tables)?;
        let foreign_key_names = self.reflect_foreign_keys(conn, &scope, &mut tables)?;
        self.reflect_indexes(conn, &scope, &foreign_key_names, &mut tables)?;
        self.reflect_checks(conn, &names, mariadb, &mut tables)?;

        let mut schema = Schema { tables: tables.into_values().collect(), enums: Vec::new() };
        schema.normalize();
        Ok(schema)
    }
}

/// The server-wide name of the run lock `key`: qualified by database, and
/// hashed (names are at most 64 characters long).
fn lock_name(dialect: &MysqlDialect, key: &str) -> String {
    format!("CONCAT('migrate:', SHA1(CONCAT({}, ':', DATABASE())))", dialect.quote_string(key))
}

/// The named lock the run lock's holder keeps on its reporting connection
/// (`LockStatements::holder_lock`); 55 characters, under MySQL's 64.
fn holder_lock_name(dialect: &MysqlDialect, key: &str) -> String {
    format!("CONCAT('migrate:', SHA1(CONCAT({}, ':', DATABASE())), ':holder')", dialect.quote_string(key))
}

impl MysqlDialect {
    fn reflect_columns(
        &self,
        conn: &mut Connection,
        scope: &str,
        mariadb: bool,
        tables: &mut BTreeMap<String, Table>,
    ) -> Result<(), ReflectError> {
        let rows: Vec<ColumnRow> = conn.load(&format!(
            "SELECT TABLE_NAME AS table_name, COLUMN_NAME AS name, COLUMN_TYPE AS column_type, \
               IS_NULLABLE AS nullable, COLUMN_DEFAULT AS default_sql, EXTRA AS extra, COLUMN_COMMENT AS comment \
             FROM information_schema.COLUMNS WHERE {scope} ORDER BY TABLE_NAME, ORDINAL_POSITION"
        ))?;
        for row in rows {
            let Some(table) = row.table_name.and_then(|t| tables.get_mut(&t)) else { continue };
            let name = row.name.unwrap_or_default();
            let ty = match self.parse_type(row.column_type.as_deref().unwrap_or_default()) {
                ColumnType::Enum { values, .. } => ColumnType::Enum { name: name.clone(), values },
                ty => ty,
            };
            let mut column = Column::new(name, ty);
            column.nullable = row.nullable.as_deref() == Some("YES");
            column.comment = row.comment.filter(|c| !c.is_empty());
            let extra = row.extra.unwrap_or_default().to_ascii_lowercase();
            column.autoincrement = extra.contains("auto_increment");
            column.default = match row.default_sql {
                _ if column.autoincrement => None,
                // MariaDB reports the default as SQL (`'a'`, `NULL`, `current_timestamp()`).
                Some(sql) if mariadb => parse_default(&sql, &column.ty),
                // MySQL reports literals bare, and marks expressions.
                Some(sql) if extra.contains("default_generated") => parse_default(&sql, &column.ty),
                Some(literal) => Some(fit_default(DefaultValue::String(literal), &column.ty)),
                None => None,
            };
            table.columns.push(column);
        }
        Ok(())
    }

    /// Reads foreign keys; returns the `(table, name)` of each, whose
    /// same-named supporting index InnoDB creates on its own.
    fn reflect_foreign_keys(
        &self,
        conn: &mut Connection,
        scope: &str,
        tables: &mut BTreeMap<String, Table>,
    ) -> Result<Vec<(String, String)>, ReflectError> {
        // Two queries joined here: joined in SQL, these two views took five
        // times as long on MariaDB (100 ms for 1,000 tables).
        let rules: Vec<RuleRow> = conn.load(&format!(
            "SELECT TABLE_NAME AS table_name, CONSTRAINT_NAME AS name, DELETE_RULE AS on_delete, \
               UPDATE_RULE AS on_update \
             FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE {}",
            scope.replacen("TABLE_SCHEMA", "CONSTRAINT_SCHEMA", 1)
        ))?;
        let rules: BTreeMap<(String, String), RuleRow> = rules
            .into_iter()
            .map(|r| ((r.table_name.clone().unwrap_or_default(), r.name.clone().unwrap_or_default()), r))
            .collect();
        let rows: Vec<ForeignKeyRow> = conn.load(&format!(
            "SELECT TABLE_NAME AS table_name, CONSTRAINT_NAME AS name, COLUMN_NAME AS column_name, \
               REFERENCED_TABLE_NAME AS referred_table, REFERENCED_COLUMN_NAME AS referred_column \
             FROM information_schema.KEY_COLUMN_USAGE \
             WHERE {scope} AND REFERENCED_TABLE_NAME IS NOT NULL \
             ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION"
        ))?;
        let mut names = Vec::new();
        for row in rows {
            let table_name = row.table_name.unwrap_or_default();
            let Some(table) = tables.get_mut(&table_name) else { continue };
            let name = row.name.unwrap_or_default();
            let (column, referred) = (row.column_name.unwrap_or_default(), row.referred_column.unwrap_or_default());
            match table.foreign_keys.last_mut() {
                Some(fk) if fk.name.as_deref() == Some(&name) => {
                    fk.columns.push(column);
                    fk.referred_columns.push(referred);
                }
                _ => {
                    let rule = rules.get(&(table_name.clone(), name.clone()));
                    names.push((table_name, name.clone()));
                    table.foreign_keys.push(ForeignKey {
                        name: Some(name),
                        columns: vec![column],
                        referred_table: row.referred_table.unwrap_or_default(),
                        referred_columns: vec![referred],
                        // RESTRICT is MySQL's NO ACTION: the default.
                        on_delete: action(rule.and_then(|r| r.on_delete.as_deref())),
                        on_update: action(rule.and_then(|r| r.on_update.as_deref())),
                    });
                }
            }
        }
        Ok(names)
    }

    fn reflect_indexes(
        &self,
        conn: &mut Connection,
        scope: &str,
        foreign_key_names: &[(String, String)],
        tables: &mut BTreeMap<String, Table>,
    ) -> Result<(), ReflectError> {
        let rows: Vec<IndexRow> = conn.load(&format!(
            "SELECT TABLE_NAME AS table_name, INDEX_NAME AS name, CAST(NON_UNIQUE AS CHAR) AS non_unique, \
               COLUMN_NAME AS column_name \
             FROM information_schema.STATISTICS WHERE {scope} ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX"
        ))?;
        let mut indexes: BTreeMap<(String, String), (bool, Vec<String>)> = BTreeMap::new();
        for row in rows {
            let key = (row.table_name.unwrap_or_default(), row.name.unwrap_or_default());
            let entry = indexes.entry(key).or_insert((row.non_unique.as_deref() == Some("0"), Vec::new()));
            entry.1.extend(row.column_name);
        }
        for ((table_name, name), (unique, columns)) in indexes {
            let Some(table) = tables.get_mut(&table_name) else { continue };
            if name == "PRIMARY" {
                table.primary_key = Some(PrimaryKey { name: None, columns });
            } else if unique {
                // A unique index is how MySQL keeps a unique constraint.
                table.unique_constraints.push(UniqueConstraint { name: Some(name), columns });
            } else if !foreign_key_names.contains(&(table_name, name.clone())) {
                let keys = columns.into_iter().map(IndexKey::Column).collect();
                table.indexes.push(Index { name, keys, unique: false, predicate: None });
            }
        }
        Ok(())
    }

    fn reflect_checks(
        &self,
        conn: &mut Connection,
        names: &[String],
        mariadb: bool,
        tables: &mut BTreeMap<String, Table>,
    ) -> Result<(), ReflectError> {
        let in_tables = sql_name_list(self, names);
        // MariaDB names checks per table (and has `TABLE_NAME` here); MySQL per schema.
        let sql = if mariadb {
            format!(
                "SELECT TABLE_NAME AS table_name, CONSTRAINT_NAME AS name, CHECK_CLAUSE AS clause \
                 FROM information_schema.CHECK_CONSTRAINTS \
                 WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME IN ({in_tables})"
            )
        } else {
            format!(
                "SELECT t.TABLE_NAME AS table_name, c.CONSTRAINT_NAME AS name, c.CHECK_CLAUSE AS clause \
                 FROM information_schema.TABLE_CONSTRAINTS t JOIN information_schema.CHECK_CONSTRAINTS c \
                   ON c.CONSTRAINT_SCHEMA = t.CONSTRAINT_SCHEMA AND c.CONSTRAINT_NAME = t.CONSTRAINT_NAME \
                 WHERE t.CONSTRAINT_TYPE = 'CHECK' AND t.TABLE_SCHEMA = DATABASE() AND t.TABLE_NAME IN ({in_tables})"
            )
        };
        let rows: Vec<CheckRow> = conn.load(&sql)?;
        for row in rows {
            let Some(table) = row.table_name.and_then(|t| tables.get_mut(&t)) else { continue };
            let name = row.name.unwrap_or_default();
            let expression = unquote_plain_identifiers(strip_outer_parens(&row.clause.unwrap_or_default()), '`');
            // MariaDB's `json` is `longtext` with this check, named after the column.
            if expression == format!("json_valid({name})")
                && let Some(column) = table.columns.iter_mut().find(|c| c.name == name)
            {
                column.ty = ColumnType::Json;
                continue;
            }
            table.checks.push(Check { name: Some(name), expression });
        }
        Ok(())
    }
}

/// Whether an index, unique constraint or primary key of `table` starts with `columns`.
fn indexed(table: &Table, columns: &[String]) -> bool {
    let starts = |keys: &[String]| keys.len() >= columns.len() && keys[..columns.len()] == *columns;
    let index_columns = table.indexes.iter().map(|i| {
        i.keys.iter().map_while(|k| if let IndexKey::Column(c) = k { Some(c.clone()) } else { None }).collect()
    });
    table.primary_key.iter().any(|pk| starts(&pk.columns))
        || table.unique_constraints.iter().any(|u| starts(&u.columns))
        || index_columns.collect::<Vec<Vec<String>>>().iter().any(|keys| starts(keys))
}

/// The columns an enum label op changes: those it names (`table.column`), or
/// else every column of the enum type in `schema`.
fn enum_columns_named(schema: &Schema, name: &str, named: &[String]) -> Vec<(String, Column)> {
    if named.is_empty() {
        return enum_columns(schema, name).into_iter().map(|(t, c)| (t.to_string(), c.clone())).collect();
    }
    named
        .iter()
        .filter_map(|qualified| {
            let (table, column) = qualified.split_once('.')?;
            let column = schema.table(table)?.column(column)?.clone();
            Some((table.to_string(), column))
        })
        .collect()
}

/// `'a','b'` of an `enum(...)` type: the values, unescaped.
fn parse_enum_values(inner: &str) -> Vec<String> {
    let mut values = Vec::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    value.push('\'');
                }
                '\'' => break,
                '\\' => value.extend(chars.next()),
                c => value.push(c),
            }
        }
        values.push(value);
    }
    values
}

/// A referential rule; `RESTRICT` and `NO ACTION` mean the same here and
/// are the default: none.
fn action(rule: Option<&str>) -> Option<ForeignKeyAction> {
    ForeignKeyAction::parse(rule?).filter(|a| *a != ForeignKeyAction::Restrict)
}

impl TransactionSql for MysqlDialect {
    fn begin_transaction(&self, options: &TransactionOptions) -> Vec<String> {
        // The level applies to the next transaction only, so it is set just
        // before it starts.
        let set_level = options.isolation.map(|level| format!("SET TRANSACTION ISOLATION LEVEL {}", level.sql()));
        let start = match options.access {
            AccessMode::ReadWrite => "START TRANSACTION",
            AccessMode::ReadOnly => "START TRANSACTION READ ONLY",
        };
        set_level.into_iter().chain([start.to_string()]).collect()
    }
}

impl ClassifyFailure for MysqlDialect {
    fn classify_failure(&self, message: &str, server: Option<&ServerError>) -> Failure {
        // Errors of plain-text statements come without a code, so the
        // message (in the server's English) is what says what happened.
        let redacted = redact_after(message, &["entry ", "value: "], '\'');
        let mut failure = Failure::new(FailureKind::Other, redacted);
        if message.starts_with("Duplicate entry ") {
            failure.kind = FailureKind::UniqueViolation;
            // MySQL 8 names the key `table.key`, MariaDB the key alone.
            let key = message.rsplit_once(" for key ").map(|(_, k)| k.trim_matches('\''));
            match key.and_then(|k| k.split_once('.')) {
                Some((table, key)) => {
                    failure.table = Some(table.to_string());
                    failure.constraint = Some(key.to_string());
                }
                None => failure.constraint = key.map(str::to_string),
            }
        } else if message.contains("a foreign key constraint fails (") {
            failure.kind = FailureKind::ForeignKeyViolation;
            // `(`db`.`child`, CONSTRAINT `name` FOREIGN KEY ...`: the child table.
            let qualified = message.split_once("fails (").and_then(|(_, rest)| rest.split_once(", CONSTRAINT"));
            failure.table =
                qualified.map(|(table, _)| table.rsplit('.').next().unwrap_or(table).trim_matches('`').to_string());
            failure.constraint = quoted_after(message, "CONSTRAINT", '`', '`');
        } else if let Some(column) =
            quoted_after(message, "Column", '\'', '\'').filter(|_| message.ends_with("cannot be null"))
        {
            failure.kind = FailureKind::NotNullViolation;
            failure.columns = vec![column];
        } else if message.starts_with("Field '") && message.ends_with("doesn't have a default value") {
            failure.kind = FailureKind::NotNullViolation;
            failure.columns = quoted_after(message, "Field", '\'', '\'').into_iter().collect();
        } else if message.starts_with("Check constraint '") {
            failure.kind = FailureKind::CheckViolation;
            failure.constraint = quoted_after(message, "Check constraint", '\'', '\'');
        } else if message.starts_with("CONSTRAINT `") && message.contains("` failed for `") {
            failure.kind = FailureKind::CheckViolation;
            failure.constraint = quoted_after(message, "CONSTRAINT", '`', '`');
            failure.table = message.rsplit_once("`.`").map(|(_, t)| t.trim_end_matches('`').to_string());
        } else if message.starts_with("Table '") && message.ends_with("doesn't exist") {
            failure.kind = FailureKind::UndefinedTable;
            let qualified = quoted_after(message, "Table", '\'', '\'');
            failure.table = qualified.map(|q| q.rsplit_once('.').map_or(q.clone(), |(_, t)| t.to_string()));
        } else if message.starts_with("Cannot execute statement in a READ ONLY transaction") {
            failure.kind = FailureKind::ReadOnlyTransaction;
        } else if message.starts_with("Deadlock found") {
            failure.kind = FailureKind::SerializationFailure;
        } else if message.contains("server has gone away") || message.starts_with("Lost connection") {
            failure.kind = FailureKind::ConnectionLost;
        } else if let Some(kind) = driver_kind(server) {
            failure.kind = kind;
        }
        failure
    }
}

impl super::query::QueryHooks for MysqlDialect {
    fn identifier_quote(&self) -> char {
        '`'
    }

    fn has_nulls_order(&self) -> bool {
        false
    }

    fn has_aggregate_filter(&self) -> bool {
        false
    }

    fn has_full_join(&self) -> bool {
        false
    }

    fn limit_for_offset_only(&self) -> Option<&'static str> {
        Some("18446744073709551615")
    }

    fn casts_select_list_parameters(&self) -> bool {
        true
    }

    fn upsert_syntax(&self) -> super::query::UpsertSyntax {
        super::query::UpsertSyntax::OnDuplicateKey
    }

    fn cast_type(&self, ty: &ColumnType) -> String {
        match ty {
            ColumnType::Smallint | ColumnType::Integer | ColumnType::Bigint | ColumnType::Boolean => "SIGNED".into(),
            ColumnType::Real | ColumnType::Double => "DOUBLE".into(),
            ColumnType::Numeric { .. } => self.render_type(ty),
            ColumnType::Date => "DATE".into(),
            ColumnType::Time => "TIME".into(),
            ColumnType::Timestamp | ColumnType::Timestamptz => "DATETIME(6)".into(),
            ColumnType::Binary => "BINARY".into(),
            _ => "CHAR".into(),
        }
    }

    fn memo_slot(&self) -> usize {
        1
    }

    fn batched_key_settings_query(&self) -> Option<&'static str> {
        // A multi-row INSERT of known size ("simple insert") gets consecutive
        // keys, `auto_increment_increment` apart, under lock modes 0 and 1.
        // Under 2 ("interleaved", what Galera requires) the manual only says
        // the keys of one statement "may not be consecutive" while bulk
        // inserts run concurrently, so rows are then inserted one by one.
        Some("SELECT @@innodb_autoinc_lock_mode < 2 AS batchable, @@auto_increment_increment AS step")
    }

    fn server_version_query(&self) -> &'static str {
        "SELECT VERSION() AS value"
    }

    fn capabilities(&self, version: &str) -> super::query::Capabilities {
        // MySQL has no RETURNING. MariaDB 10.5 added it to INSERT and DELETE,
        // but the client library gives a prepared INSERT ... RETURNING no
        // result metadata ("No metadata exists" from diesel, seen on 10.11),
        // so keys come from LAST_INSERT_ID() on both.
        // JSON_TABLE: MySQL 8.0.4, MariaDB 10.6.
        let json_table = if version.contains("MariaDB") {
            super::query::version_at_least(version, (10, 6))
        } else {
            super::query::version_at_least(version, (8, 0))
        };
        super::query::Capabilities {
            returning_insert: false,
            returning_update: false,
            returning_delete: false,
            key_list: if json_table { super::query::KeyList::JsonTable } else { super::query::KeyList::Padded },
        }
    }

    fn latest_capabilities(&self) -> super::query::Capabilities {
        self.capabilities("11.8.2-MariaDB")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_synonyms() {
        let d = MysqlDialect;
        for (sql, ty) in [
            ("int(11)", ColumnType::Integer),
            ("int", ColumnType::Integer),
            ("tinyint(1)", ColumnType::Boolean),
            ("bigint(20)", ColumnType::Bigint),
            ("decimal(10,2)", ColumnType::Numeric { precision: Some(10), scale: Some(2) }),
            ("datetime", ColumnType::Timestamp),
            ("timestamp", ColumnType::Timestamptz),
            ("char(36)", ColumnType::Char { length: Some(36) }),
            ("int(10) unsigned", ColumnType::Raw { sql: "int(10) unsigned".into() }),
            ("tinyint(4)", ColumnType::Raw { sql: "tinyint(4)".into() }),
        ] {
            assert_eq!(d.parse_type(sql), ty, "{sql}");
        }
        let values = vec!["a".to_string(), "it's".into(), "c,d".into()];
        let rendered = d.render_type(&ColumnType::Enum { name: "e".into(), values: values.clone() });
        assert_eq!(rendered, "enum('a','it''s','c,d')");
        assert_eq!(d.parse_type(&rendered), ColumnType::Enum { name: String::new(), values });
    }

    #[test]
    fn quoting_cannot_be_escaped() {
        let d = MysqlDialect;
        assert_eq!(d.quote_identifier("a`; DROP TABLE x; --"), "`a``; DROP TABLE x; --`");
        assert_eq!(d.quote_string(r"\'; DROP TABLE x; --"), r"'\\''; DROP TABLE x; --'");
    }
}
