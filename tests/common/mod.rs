//! Shared integration-test support: a fresh, empty database per test on each
//! backend, dropped afterwards.
//!
//! Server URLs come from `MIGRATE_TEST_POSTGRES_URL` / `MIGRATE_TEST_MYSQL_URL`
//! (defaulting to the local servers). An unreachable server skips its tests
//! with a printed notice, except under `CI=true`, where it is a failure.

#![allow(dead_code)] // each test binary uses a different part of this module

pub mod cases;

use migrate::db::{Backend, Connection, DatabaseUrl, OpenMode};
use migrate::schema::{
    Column, ColumnType, DefaultValue, ForeignKey, Index, IndexKey, PrimaryKey, Schema, Table, UniqueConstraint,
};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A database created for one test; dropped (server) or deleted (SQLite) on drop.
pub struct TestDb {
    /// URL of the fresh database.
    pub url: String,
    admin_url: Option<String>,
    name: String,
    backend: Backend,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// Opens a new connection to this database.
    pub fn connect(&self) -> Connection {
        Connection::open(&DatabaseUrl::parse(&self.url).unwrap(), OpenMode::ReadWrite).unwrap()
    }

    /// Which backend this database is on.
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(admin) = &self.admin_url else { return };
        if let Ok(mut conn) = Connection::open(&DatabaseUrl::parse(admin).unwrap(), OpenMode::ReadWrite) {
            let sql = match self.backend {
                Backend::Postgres => format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name),
                _ => format!("DROP DATABASE IF EXISTS `{}`", self.name),
            };
            let _ = conn.execute(&sql);
        }
    }
}

fn server_url(backend: Backend) -> String {
    match backend {
        Backend::Postgres => std::env::var("MIGRATE_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into()),
        Backend::Mysql => {
            std::env::var("MIGRATE_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
        }
        Backend::Sqlite => unreachable!("SQLite needs no server"),
    }
}

fn unique_name(test: &str) -> String {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let slug: String =
        test.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    let slug = &slug[..slug.len().min(30)];
    format!("mt_{slug}_{}_{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed))
}

fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let (prefix, _) = base.rsplit_once('/').expect("server URL has a database path");
    match query {
        Some(q) => format!("{prefix}/{db}?{q}"),
        None => format!("{prefix}/{db}"),
    }
}

/// A fresh database on `backend` for the test called `test`, or `None`
/// (after printing why) when the server is unreachable outside CI.
pub fn fresh_db(backend: Backend, test: &str) -> Option<TestDb> {
    let name = unique_name(test);
    if backend == Backend::Sqlite {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join(format!("{name}.db")).display());
        return Some(TestDb { url, admin_url: None, name, backend, _dir: Some(dir) });
    }
    let admin = server_url(backend);
    let mut conn = match Connection::open(&DatabaseUrl::parse(&admin).unwrap(), OpenMode::ReadWrite) {
        Ok(conn) => conn,
        Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("skipping {test} on {backend:?}: server unreachable ({e})");
            return None;
        }
        Err(e) => panic!("CI=true and the {backend:?} test server is unreachable: {e}"),
    };
    let create = match backend {
        Backend::Postgres => format!("CREATE DATABASE \"{name}\""),
        _ => format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4"),
    };
    conn.execute(&create).unwrap();
    Some(TestDb { url: with_database(&admin, &name), admin_url: Some(admin), name, backend, _dir: None })
}

/// Runs `body` once per backend whose server is reachable, each with a fresh database.
pub fn each_backend(test: &str, body: impl Fn(&TestDb)) {
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::Mysql] {
        if let Some(db) = fresh_db(backend, test) {
            body(&db);
        }
    }
}

/// `n` tables `t0000`, `t0001`, ... of 10 columns, 2 indexes, 1 unique
/// constraint and 1 foreign key each (to the table before), in creation order.
pub fn chain_schema(n: usize) -> Schema {
    Schema { tables: (0..n).map(chain_table).collect(), enums: Vec::new() }
}

fn chain_table(i: usize) -> Table {
    let name = format!("t{i:04}");
    let parent = format!("t{:04}", i.saturating_sub(1));
    let col = |n: &str, ty: ColumnType| Column::new(n, ty);
    let mut t = Table::new(&name);
    t.columns = vec![
        col("id", ColumnType::Integer).not_null().autoincrement(),
        col("code", ColumnType::Varchar { length: Some(32) }).not_null(),
        col("name", ColumnType::Varchar { length: Some(100) }),
        col("qty", ColumnType::Integer).not_null().default(DefaultValue::Number("0".into())),
        col("price", ColumnType::Numeric { precision: Some(10), scale: Some(2) }),
        col("active", ColumnType::Boolean).default(DefaultValue::Boolean(true)),
        col("created", ColumnType::Timestamp).default(DefaultValue::CurrentTimestamp),
        col("note", ColumnType::Text),
        col("parent_id", ColumnType::Integer),
        col("score", ColumnType::Double),
    ];
    t.primary_key = Some(PrimaryKey { name: None, columns: vec!["id".into()] });
    t.indexes = vec![
        Index {
            name: format!("ix_{name}_name"),
            keys: vec![IndexKey::Column("name".into())],
            unique: false,
            predicate: None,
        },
        Index {
            name: format!("ix_{name}_created_qty"),
            keys: vec![IndexKey::Column("created".into()), IndexKey::Column("qty".into())],
            unique: false,
            predicate: None,
        },
    ];
    t.unique_constraints =
        vec![UniqueConstraint { name: Some(format!("uq_{name}_code")), columns: vec!["code".into()] }];
    t.foreign_keys = vec![ForeignKey {
        name: Some(format!("fk_{name}_parent")),
        columns: vec!["parent_id".into()],
        referred_table: parent,
        referred_columns: vec!["id".into()],
        on_delete: None,
        on_update: None,
    }];
    t
}
