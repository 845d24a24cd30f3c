//! Database URLs: which backend, where, and how to print them safely.
//!
//! Server URLs are parsed with the `url` crate. A password may be written
//! percent-encoded (`p%40ss`) or, as people paste them, raw with `# ? / @ : %`
//! in it: the user information then ends at the last `@` of the URL (an `@`
//! in the database name or in a query key must be written `%40`). The driver
//! is handed a re-encoded URL; everything printed shows the password as `***`.

use super::DbError;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The three supported backends. In files (`execute`'s `dialects` keys)
/// they are `postgresql`, `mysql` and `sqlite`, with the aliases
/// `postgres` and `mariadb` that `--dialect` accepts too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// PostgreSQL (`postgres://`, `postgresql://`).
    #[serde(rename = "postgresql", alias = "postgres")]
    Postgres,
    /// MariaDB or MySQL (`mysql://`, `mariadb://`).
    #[serde(alias = "mariadb")]
    Mysql,
    /// SQLite (`sqlite:path`, `sqlite://path`, `sqlite:///abs/path`, `sqlite::memory:`).
    Sqlite,
}

impl Backend {
    /// The cargo feature of migrate-orm that builds this backend's driver.
    pub fn feature(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Mysql => "mysql",
            Backend::Sqlite => "sqlite",
        }
    }
}

/// Query parameters whose values are secrets (libpq's `password`, `sslpassword`).
const SECRET_PARAMS: [&str; 2] = ["password", "sslpassword"];

/// What is encoded in the user information of a driver URL: everything but
/// the unreserved characters, so that no byte of a password can end it.
const USERINFO: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// A parsed database URL. `Display` prints it with every password replaced
/// by `***`; the original is only handed to the driver.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    backend: Backend,
    location: Location,
    redactor: Redactor,
}

#[derive(Clone, PartialEq, Eq)]
enum Location {
    /// A server: the URL for the driver (password encoded) and for people.
    Server { driver: String, shown: String },
    /// An SQLite file path, or `:memory:`.
    Sqlite { path: String },
}

impl DatabaseUrl {
    /// Parses `url`, recognising the backend from its scheme.
    pub fn parse(url: &str) -> Result<Self, DbError> {
        let url = url.trim();
        let redactor = Redactor::of_urls([url]);
        let Some((scheme, rest)) = split_scheme(url) else {
            return Err(DbError::InvalidUrl {
                url: "(not shown)".into(),
                reason: "not a URL: expected postgres://, mysql://, mariadb:// or sqlite: (key=value \
                         connection strings are not accepted)"
                    .into(),
            });
        };
        let backend = match scheme.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Backend::Postgres,
            "mysql" | "mariadb" => Backend::Mysql,
            "sqlite" => Backend::Sqlite,
            other => {
                return Err(DbError::InvalidUrl {
                    url: format!("{scheme}:…"),
                    reason: format!("unknown scheme `{other}` (expected postgres://, mysql://, mariadb:// or sqlite:)"),
                });
            }
        };
        let location = match backend {
            Backend::Sqlite => {
                // sqlite:///abs -> /abs ; sqlite://rel -> rel ; sqlite:rel -> rel
                let path = rest.strip_prefix("//").unwrap_or(rest);
                if path.is_empty() {
                    return Err(DbError::InvalidUrl { url: url.into(), reason: "no file path after `sqlite:`".into() });
                }
                Location::Sqlite { path: path.into() }
            }
            _ => server(scheme, rest, backend)?,
        };
        Ok(DatabaseUrl { backend, location, redactor })
    }

    /// Which backend this URL names.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// For SQLite, the file path (or `:memory:`); `None` for servers.
    pub fn sqlite_path(&self) -> Option<&str> {
        match &self.location {
            Location::Sqlite { path } => Some(path),
            Location::Server { .. } => None,
        }
    }

    /// The URL as the driver wants it: the password percent-encoded,
    /// `mariadb://` as `mysql://`.
    pub(crate) fn driver_url(&self) -> &str {
        match &self.location {
            Location::Server { driver, .. } => driver,
            Location::Sqlite { path } => path,
        }
    }

    /// Removes this URL's password (raw, decoded or encoded) from `text`:
    /// driver messages sometimes echo connection parameters.
    pub fn scrub(&self, text: &str) -> String {
        self.redactor.scrub(text)
    }
}

impl DatabaseUrl {
    /// The same server and options with another database (a temporary shadow
    /// database beside this one); `None` for SQLite, which has no server.
    pub fn with_database(&self, name: &str) -> Option<DatabaseUrl> {
        if self.backend == Backend::Sqlite {
            return None;
        }
        let mut driver = url::Url::parse(self.driver_url()).ok()?;
        driver.set_path(&format!("/{name}"));
        DatabaseUrl::parse(driver.as_str()).ok()
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Location::Server { shown, .. } => f.write_str(shown),
            Location::Sqlite { path } => write!(f, "sqlite:{path}"),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// `scheme` and what follows its `:`, when `url` starts with a URL scheme.
fn split_scheme(url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = url.split_once(':')?;
    let valid = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    valid.then_some((scheme, rest))
}

/// A server URL, `rest` being what follows `scheme:`.
fn server(scheme: &str, rest: &str, backend: Backend) -> Result<Location, DbError> {
    let invalid = |reason: String| DbError::InvalidUrl { url: format!("{scheme}:…"), reason };
    let Some(rest) = rest.strip_prefix("//") else {
        return Err(invalid(format!("expected `{scheme}://[user[:password]@]host[:port]/database`")));
    };
    let (userinfo, location) = split_userinfo(rest);
    if location.contains('#') {
        return Err(invalid("a `#` after the host: write it as %23".into()));
    }
    let (user, password) = match userinfo {
        Some(info) => match info.split_once(':') {
            Some((user, password)) => (decode(user), Some(decode(password))),
            None => (decode(info), None),
        },
        None => (String::new(), None),
    };
    let mut text = format!("{scheme}://");
    if userinfo.is_some() {
        text.push_str(&utf8_percent_encode(&user, USERINFO).to_string());
        if let Some(password) = &password {
            text.push(':');
            text.push_str(&utf8_percent_encode(password, USERINFO).to_string());
        }
        text.push('@');
    }
    text.push_str(location);
    // No host (`postgres:///db`) is the driver's local socket, as libpq reads it.
    let parsed = url::Url::parse(&text).map_err(|e| invalid(e.to_string()))?;
    let mut driver = parsed.clone();
    if backend == Backend::Mysql && !scheme.eq_ignore_ascii_case("mysql") {
        driver.set_scheme("mysql").map_err(|()| invalid("cannot be read as a mysql:// URL".into()))?;
    }
    Ok(Location::Server { driver: driver.to_string(), shown: shown(parsed) })
}

/// Splits the user information (before the `@`) from the host and what
/// follows. A URL that reads cleanly ends it at the authority's last `@`;
/// otherwise (a raw `# ? /` in the password), at the last `@` of the URL.
fn split_userinfo(rest: &str) -> (Option<&str>, &str) {
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let strict = rest[..authority_end].rfind('@');
    let tail = &rest[authority_end..];
    // After the authority, an `@` may only stand in a query value.
    let clean = !tail.contains('#')
        && !tail.split('?').next().unwrap_or_default().contains('@')
        && tail.split_once('?').is_none_or(|(_, query)| {
            query.split('&').all(|pair| pair.find('@').is_none_or(|at| pair[..at].contains('=')))
        })
        && url::Url::parse(&format!("x://{rest}")).is_ok();
    match if clean { strict } else { rest.rfind('@') } {
        Some(at) => (Some(&rest[..at]), &rest[at + 1..]),
        None => (None, rest),
    }
}

/// The URL as shown to people: passwords, in the user information or in
/// the query, as `***`.
fn shown(mut url: url::Url) -> String {
    if url.password().is_some() {
        // `***` is valid in user information; this cannot fail on a URL with a host.
        let _ = url.set_password(Some("***"));
    }
    let pairs: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    if pairs.iter().any(|(k, _)| is_secret_param(k)) {
        let mut query = url.query_pairs_mut();
        query.clear();
        for (key, value) in &pairs {
            query.append_pair(key, if is_secret_param(key) { "***" } else { value });
        }
    }
    url.to_string()
}

fn is_secret_param(key: &str) -> bool {
    SECRET_PARAMS.iter().any(|p| p.eq_ignore_ascii_case(key))
}

fn decode(s: &str) -> String {
    percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// The passwords of some URLs (in every spelling), to scrub from any text:
/// the one redaction the CLI applies to everything it prints.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// The secrets of each of `urls`, read leniently: a URL too broken to
    /// use (no `//`, a key=value string) still has its password found.
    pub fn of_urls<'a>(urls: impl IntoIterator<Item = &'a str>) -> Self {
        let mut redactor = Redactor::default();
        for url in urls {
            redactor.add(url);
        }
        redactor
    }

    /// Adds the secrets of `url`.
    pub fn add(&mut self, url: &str) {
        let mut found = Vec::new();
        let scheme = split_scheme(url.trim());
        // An SQLite path has no password; a `:` and an `@` in it are not one.
        if scheme.is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("sqlite")) {
            return;
        }
        let body = scheme.map_or(url.trim(), |(_, rest)| rest);
        let body = body.strip_prefix("//").unwrap_or(body);
        if let Some(at) = body.rfind('@')
            && let Some((_, password)) = body[..at].split_once(':')
        {
            found.push(password.to_string());
        }
        // `?password=...`, `&password=...` and libpq's `password='...' host=...`.
        let lower = body.to_ascii_lowercase();
        for (at, _) in lower.match_indices("password=") {
            let value = &body[at + "password=".len()..];
            let value = match value.strip_prefix('\'') {
                Some(quoted) => quoted.split('\'').next().unwrap_or_default(),
                None => value.split(['&', ' ', '\t']).next().unwrap_or_default(),
            };
            found.push(value.to_string());
            found.push(value.replace('+', " "));
        }
        for secret in found {
            let decoded = decode(&secret);
            let encoded = utf8_percent_encode(&decoded, USERINFO).to_string();
            for s in [secret, decoded, encoded] {
                if !s.is_empty() && s != "***" && !self.secrets.contains(&s) {
                    self.secrets.push(s);
                }
            }
        }
        // Longest first, so that no part of a longer spelling is left behind.
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// `text` with every secret replaced by `***`.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "***");
            }
        }
        out
    }
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
        for bad in ["postgres:user:Pw1secret@host/db", "host=h user=u password=Pw1secret dbname=d"] {
            let err = DatabaseUrl::parse(bad).unwrap_err().to_string();
            assert!(!err.contains("Pw1secret"), "{err}");
        }
    }

    #[test]
    fn redacts_passwords() {
        let url = DatabaseUrl::parse("postgres://bob:s%40cret@db.example:5432/app?sslmode=require").unwrap();
        assert_eq!(url.to_string(), "postgres://bob:***@db.example:5432/app?sslmode=require");
        assert_eq!(format!("{url:?}"), "DatabaseUrl(postgres://bob:***@db.example:5432/app?sslmode=require)");
        assert_eq!(url.scrub("auth failed for s@cret"), "auth failed for ***");
        assert_eq!(DatabaseUrl::parse("mysql://root@h/db").unwrap().to_string(), "mysql://root@h/db");
        let url = DatabaseUrl::parse("postgres://u@h/db?sslmode=require&password=Pw%23x").unwrap();
        assert_eq!(url.to_string(), "postgres://u@h/db?sslmode=require&password=***");
        assert_eq!(url.scrub("Pw#x and Pw%23x"), "*** and ***");
    }

    #[test]
    fn the_redactor_finds_passwords_in_broken_urls() {
        let redactor = Redactor::of_urls([
            "postgres:bob:Pw1@h/db",
            "host=h user=u password='Kv2 x' dbname=d",
            "mysql://u@h/db?password=Q%233",
            "sqlite:/tmp/a:b@c.db",
        ]);
        assert_eq!(redactor.scrub("Pw1 Kv2 x Q#3 Q%233 a:b@c"), "*** *** *** *** a:b@c");
    }

    #[test]
    fn raw_special_characters_in_passwords() {
        let secret = "P#w?o/r@d:%x";
        for scheme in ["postgres", "postgresql", "mysql", "mariadb"] {
            let url =
                DatabaseUrl::parse(&format!("{scheme}://bob:{secret}@127.0.0.1:5432/db?sslmode=disable")).unwrap();
            assert_eq!(url.to_string(), format!("{scheme}://bob:***@127.0.0.1:5432/db?sslmode=disable"));
            let driver = url::Url::parse(url.driver_url()).unwrap();
            assert_eq!(decode(driver.password().unwrap()), secret, "{scheme}");
            assert_eq!(driver.host_str(), Some("127.0.0.1"));
            assert_eq!(driver.path(), "/db");
            assert_eq!(url.scrub(&format!("{secret} {}", utf8_percent_encode(secret, USERINFO))), "*** ***");
        }
        // A numeric start would read as a port, and the rest as a fragment.
        let url = DatabaseUrl::parse("postgres://u:123#x@h/db").unwrap();
        assert_eq!(url.to_string(), "postgres://u:***@h/db");
        // An `@` in a query value is not the end of the user information.
        let url = DatabaseUrl::parse("postgres://h/db?application_name=a@b").unwrap();
        assert_eq!(url.to_string(), "postgres://h/db?application_name=a@b");
        assert_eq!(DatabaseUrl::parse("mariadb://u:p@h/db").unwrap().driver_url(), "mysql://u:p@h/db");
        // The local socket, as libpq spells it.
        assert_eq!(
            DatabaseUrl::parse("postgres:///db?host=/run/pg").unwrap().driver_url(),
            "postgres:///db?host=/run/pg"
        );
    }
}
