//! Database URLs: which backend, where, and how to print them safely.

use super::DbError;
use std::fmt;

/// The three supported backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// PostgreSQL (`postgres://`, `postgresql://`).
    Postgres,
    /// MariaDB or MySQL (`mysql://`, `mariadb://`).
    Mysql,
    /// SQLite (`sqlite:path`, `sqlite://path`, `sqlite:///abs/path`, `sqlite::memory:`).
    Sqlite,
}

/// A parsed database URL. `Display` prints it with the password replaced by
/// `***`; the original is only handed to the driver.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    raw: String,
    backend: Backend,
}

impl DatabaseUrl {
    /// Parses `url`, recognising the backend from its scheme.
    pub fn parse(url: &str) -> Result<Self, DbError> {
        let url = url.trim();
        let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
        let backend = match scheme.as_deref() {
            Some("postgres" | "postgresql") => Backend::Postgres,
            Some("mysql" | "mariadb") => Backend::Mysql,
            Some("sqlite") => Backend::Sqlite,
            Some(other) => {
                return Err(DbError::InvalidUrl {
                    url: redact(url),
                    reason: format!("unknown scheme `{other}` (expected postgres://, mysql://, mariadb:// or sqlite:)"),
                });
            }
            None => {
                return Err(DbError::InvalidUrl {
                    url: redact(url),
                    reason: "no scheme (expected postgres://, mysql://, mariadb:// or sqlite:)".into(),
                });
            }
        };
        let parsed = DatabaseUrl { raw: url.to_string(), backend };
        if backend == Backend::Sqlite && parsed.sqlite_path().is_some_and(str::is_empty) {
            return Err(DbError::InvalidUrl { url: parsed.to_string(), reason: "no file path after `sqlite:`".into() });
        }
        if backend != Backend::Sqlite && !url[url.find(':').unwrap_or(0)..].starts_with("://") {
            return Err(DbError::InvalidUrl {
                url: parsed.to_string(),
                reason: "expected `scheme://host/database`".into(),
            });
        }
        Ok(parsed)
    }

    /// Which backend this URL names.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// For SQLite, the file path (or `:memory:`); `None` for servers.
    pub fn sqlite_path(&self) -> Option<&str> {
        if self.backend != Backend::Sqlite {
            return None;
        }
        let rest = &self.raw["sqlite:".len()..];
        // sqlite:///abs -> /abs ; sqlite://rel -> rel ; sqlite:rel -> rel
        Some(rest.strip_prefix("//").unwrap_or(rest))
    }

    /// The URL as the driver wants it: `mariadb://` becomes `mysql://`.
    pub(crate) fn driver_url(&self) -> String {
        match self.raw.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("mariadb") => format!("mysql://{rest}"),
            _ => self.raw.clone(),
        }
    }

    /// The password in the URL, if any, percent-decoded.
    fn password(&self) -> Option<String> {
        let (_, rest) = self.raw.split_once("://")?;
        let userinfo = rest.split(['/', '?', '#']).next()?.rsplit_once('@')?.0;
        let (_, password) = userinfo.split_once(':')?;
        (!password.is_empty()).then(|| percent_decode(password))
    }

    /// Removes every occurrence of this URL's password from `text` (driver
    /// messages sometimes echo connection parameters).
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.replace(&self.raw, &self.to_string());
        if let Some(password) = self.password() {
            out = out.replace(&password, "***");
        }
        out
    }
}

impl DatabaseUrl {
    /// The same server and options with another database (a temporary shadow
    /// database beside this one); `None` for SQLite, which has no server.
    pub fn with_database(&self, name: &str) -> Option<DatabaseUrl> {
        if self.backend == Backend::Sqlite {
            return None;
        }
        let (scheme, rest) = self.raw.split_once("://")?;
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let query = tail.find('?').map_or("", |at| &tail[at..]);
        Some(DatabaseUrl { raw: format!("{scheme}://{authority}/{name}{query}"), backend: self.backend })
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.raw))
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// `scheme://user:secret@host/db` -> `scheme://user:***@host/db`; other text unchanged.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_backends() {
        assert_eq!(DatabaseUrl::parse("postgres://u@h/db").unwrap().backend(), Backend::Postgres);
        assert_eq!(DatabaseUrl::parse("postgresql://h/db").unwrap().backend(), Backend::Postgres);
        assert_eq!(DatabaseUrl::parse("mysql://root@h/db").unwrap().backend(), Backend::Mysql);
        assert_eq!(DatabaseUrl::parse("MariaDB://root@h/db").unwrap().backend(), Backend::Mysql);
        assert_eq!(DatabaseUrl::parse("sqlite:app.db").unwrap().backend(), Backend::Sqlite);
    }

    #[test]
    fn sqlite_paths() {
        let path = |u: &str| DatabaseUrl::parse(u).unwrap().sqlite_path().unwrap().to_string();
        assert_eq!(path("sqlite:app.db"), "app.db");
        assert_eq!(path("sqlite://app.db"), "app.db");
        assert_eq!(path("sqlite:///tmp/app.db"), "/tmp/app.db");
        assert_eq!(path("sqlite::memory:"), ":memory:");
        assert!(DatabaseUrl::parse("sqlite:").is_err());
    }

    #[test]
    fn rejects_unknown_scheme_without_leaking_password() {
        let err = DatabaseUrl::parse("oracle://scott:tiger@h/db").unwrap_err().to_string();
        assert!(err.contains("unknown scheme `oracle`"), "{err}");
        assert!(!err.contains("tiger"), "{err}");
        assert!(DatabaseUrl::parse("just-a-path").is_err());
        assert!(DatabaseUrl::parse("postgres:nohost").is_err());
    }

    #[test]
    fn redacts_passwords() {
        let url = DatabaseUrl::parse("postgres://bob:s%40cret@db.example:5432/app?sslmode=require").unwrap();
        assert_eq!(url.to_string(), "postgres://bob:***@db.example:5432/app?sslmode=require");
        assert_eq!(format!("{url:?}"), "DatabaseUrl(postgres://bob:***@db.example:5432/app?sslmode=require)");
        assert_eq!(url.scrub("auth failed for s@cret"), "auth failed for ***");
        assert_eq!(redact("mysql://root@h/db"), "mysql://root@h/db");
        assert_eq!(redact("mysql://root:@h/db"), "mysql://root:***@h/db");
    }
}
