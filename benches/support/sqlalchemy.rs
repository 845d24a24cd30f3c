//! Talking to the Python baselines: the SQLAlchemy URL of a test database.

use super::common::TestDb;
use migrate::db::Backend;

/// The SQLAlchemy URL of a test database (psycopg2, PyMySQL, sqlite3).
pub fn url(db: &TestDb) -> String {
    match db.backend() {
        Backend::Sqlite => format!("sqlite:///{}", db.url.trim_start_matches("sqlite://")),
        Backend::Postgres => db.url.replacen("postgres://", "postgresql+psycopg2://", 1),
        Backend::Mysql => db.url.replacen("mysql://", "mysql+pymysql://", 1),
    }
}
