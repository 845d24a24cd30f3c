//! `migrate database create|drop`: the database a URL names, on its server,
//! or the SQLite file. Only ever that database: the server's maintenance
//! database (`postgres`, `information_schema`) is only connected to.

use crate::Error;
use crate::db::{Connection, DatabaseUrl, OpenMode};
use crate::dialect;
use std::path::Path;

/// Files SQLite and migrate keep beside a database file.
const SQLITE_COMPANIONS: [&str; 4] = ["-wal", "-shm", "-journal", ".migrate-lock"];

/// The database to act on: on a server its name and a connection to the
/// maintenance database; for SQLite the file.
enum Place {
    Server { name: String, admin: Box<Connection> },
    File(String),
}

fn place(url: &DatabaseUrl) -> Result<Place, Error> {
    let dialect = dialect::for_backend(url.backend());
    if let Some(path) = url.sqlite_path() {
        if path == ":memory:" {
            return Err(Error::Usage(format!("{url} is in memory: there is no database file to create or drop")));
        }
        return Ok(Place::File(path.to_string()));
    }
    let name = url.database_name().ok_or_else(|| Error::Usage(format!("{url} names no database")))?;
    let maintenance = dialect.maintenance_database().unwrap_or_default();
    if name == maintenance {
        return Err(Error::Usage(format!(
            "{url} is the server's own `{maintenance}` database: not created or dropped"
        )));
    }
    let admin = url
        .with_database(maintenance)
        .ok_or_else(|| Error::Usage(format!("{url}: cannot name the `{maintenance}` database of its server")))?;
    Ok(Place::Server { name, admin: Box::new(Connection::open(&admin, OpenMode::ReadWrite)?) })
}

/// `migrate database create`: creates the empty database `url` names (the
/// SQLite file). An existing SQLite file is refused; a server refuses an
/// existing database itself.
pub fn create_database(url: &DatabaseUrl) -> Result<(), Error> {
    match place(url)? {
        Place::File(path) => {
            if Path::new(&path).exists() {
                return Err(Error::Usage(format!("SQLite database file `{path}` already exists")));
            }
            Connection::open(url, OpenMode::ReadWrite)?;
            Ok(())
        }
        Place::Server { name, mut admin } => {
            let dialect = dialect::for_backend(url.backend());
            let create = dialect.create_database(&name).expect("a server dialect creates databases");
            Ok(admin.execute(&create)?)
        }
    }
}

/// `migrate database drop`: drops the database `url` names (deletes the
/// SQLite file and the files SQLite and migrate keep beside it). A database
/// that is not there is no error.
pub fn drop_database(url: &DatabaseUrl) -> Result<(), Error> {
    match place(url)? {
        Place::File(path) => {
            for suffix in std::iter::once("").chain(SQLITE_COMPANIONS) {
                let file = format!("{path}{suffix}");
                match std::fs::remove_file(&file) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::Usage(format!("cannot delete {file}: {e}"))),
                }
            }
            Ok(())
        }
        Place::Server { name, mut admin } => {
            let dialect = dialect::for_backend(url.backend());
            let drop = dialect.drop_database(&name).expect("a server dialect drops databases");
            Ok(admin.execute(&drop)?)
        }
    }
}
