//! Custom column types on every backend: values round-trip through models,
//! filters, binds and `text()` rows; an invalid stored value is refused on
//! read with an error naming model and column, not the value; and the
//! migration tool, reading the models file, gives each its base's column.
//! Arrays (`Vec<T>`) are PostgreSQL's, and a clear error elsewhere.

use crate::common::{TestDb, fresh_db};
use crate::custom_types_models::{Account, Email, Money, Mood, Prefs, Status};
use migrate::db::Backend;
use migrate::dialect::query::DecodeError;
use migrate::orm::prelude::*;
use migrate::orm::{Error, Pool, PoolOptions};

per_backend!(custom_types_round_trip, an_invalid_stored_value_is_refused_on_read, arrays_on_postgresql_only);

/// The models file `migrate` reads.
fn models() -> migrate::models::Models {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    migrate::models::load(&fixtures, &["custom_types.rs".to_string()]).unwrap()
}

/// A pool on a database holding the tables `migrate upgrade` would create
/// from the models file.
fn run(backend: Backend, name: &str, body: fn(&TestDb, &Pool)) {
    let Some(db) = fresh_db(backend, name) else { return };
    let pool = Pool::open(&db.url, PoolOptions::default()).unwrap();
    let dialect = pool.dialect();
    let mut before = migrate::schema::Schema::default();
    let diff = migrate::autogen::compare(&before, &models(), dialect, &mut |_| false);
    let mut conn = pool.get().unwrap();
    for op in &diff.upgrade {
        for sql in dialect.render_op(op, &before).unwrap() {
            conn.execute(&sql).unwrap();
        }
        before.apply(op).unwrap();
    }
    drop(conn);
    body(&db, &pool);
}

fn ann() -> Account {
    Account {
        id: 0,
        email: Email::parse("ann@x.io").unwrap(),
        balance: Money(1250),
        credit_limit: Some(Money(50_000)),
        status: Status::Suspended,
        mood: Mood::Happy,
        prefs: Prefs { theme: "dark".into(), font_size: 14 },
    }
}

fn custom_types_round_trip(_db: &TestDb, pool: &Pool) {
    let mut s = pool.session();
    let bob = Account {
        email: Email::parse("bob@x.io").unwrap(),
        balance: Money(0),
        credit_limit: None,
        status: Status::Active,
        mood: Mood::Sad,
        ..ann()
    };
    let handles = s.add_all([ann(), bob.clone()]);
    s.commit().unwrap();
    let ann_id = s[handles[0]].id;

    // A new session reads the rows: every value comes back as it went in.
    let mut s = pool.session();
    let found = s.query::<Account>(|q| q.filter(Account::EMAIL.eq(Email::parse("ann@x.io").unwrap()))).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(s[found[0]], Account { id: ann_id, ..ann() });
    let got = s.get::<Account>(&ann_id).unwrap().unwrap();
    assert_eq!(got, found[0], "the identity map holds it");

    // Filters and binds take the custom types, typed.
    let rich: Vec<Account> =
        s.execute(&select(Account::ALL).from(Account::TABLE).filter(Account::BALANCE.gt(Money(100)))).unwrap();
    assert_eq!(rich.iter().map(|a| &a.email).collect::<Vec<_>>(), [&Email::parse("ann@x.io").unwrap()]);
    let sad: Vec<(Email, Mood, Option<Money>)> = s
        .execute(
            &text("SELECT email, mood, credit_limit FROM accounts WHERE status = :status")
                .bind("status", Status::Active),
        )
        .unwrap();
    assert_eq!(sad, [(Email::parse("bob@x.io").unwrap(), Mood::Sad, None)]);

    // A change to a custom-typed field is tracked and written.
    s[got].prefs.font_size = 18;
    s[got].status = Status::Active;
    s.commit().unwrap();
    let rows: Vec<(Status, Prefs)> = s
        .execute(&select((Account::STATUS, Account::PREFS)).from(Account::TABLE).filter(Account::ID.eq(ann_id)))
        .unwrap();
    assert_eq!(rows, [(Status::Active, Prefs { theme: "dark".into(), font_size: 18 })]);
}

fn an_invalid_stored_value_is_refused_on_read(_db: &TestDb, pool: &Pool) {
    let mut s = pool.session();
    s.add(ann());
    s.commit().unwrap();
    // Written around the type: a value it would refuse.
    let mut conn = pool.get().unwrap();
    conn.execute("UPDATE accounts SET email = 'nobody.example.org', balance = 5").unwrap();
    drop(conn);

    let error = s.query::<Account>(|q| q).unwrap_err();
    let Error::Decode { source: DecodeError::Invalid { model, column, reason, .. }, .. } = &error else {
        panic!("expected an invalid stored value, got {error:?}");
    };
    assert_eq!(
        (*model, *column, reason.to_string().as_str()),
        (Some("Account"), Some("email"), "not an e-mail address")
    );
    let message = error.to_string();
    assert!(message.contains("Account.email") && !message.contains("nobody"), "{message}");

    // Outside a model the error names the column's position. (The session
    // ends its transaction first, so that its snapshot sees the change.)
    s.rollback().unwrap();
    conn = pool.get().unwrap();
    conn.execute("UPDATE accounts SET email = 'ann@x.io', balance = -1").unwrap();
    drop(conn);
    let error = s.execute::<(Email, Money)>(&text("SELECT email, balance FROM accounts")).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("column 1") && message.contains("a negative amount"), "{message}");
    assert!(!message.contains("-1"), "{message}");
    // The session is still usable.
    let n: Vec<(i64,)> = s.execute(&text("SELECT COUNT(*) FROM accounts")).unwrap();
    assert_eq!(n[0].0, 1);
}

/// What `migrate revision --autogenerate` creates for the models file, on
/// each dialect: the column types come from the custom types' bases (and
/// the PostgreSQL enum type from `enum_type`).
#[test]
fn autogenerate_gives_custom_types_their_base_columns() {
    let models = models();
    let mut out = String::new();
    for backend in [Backend::Postgres, Backend::Mysql, Backend::Sqlite] {
        let dialect = migrate::dialect::of(backend);
        let mut before = migrate::schema::Schema::default();
        let diff = migrate::autogen::compare(&before, &models, dialect, &mut |_| false);
        out.push_str(&format!("-- {}\n", dialect.name()));
        for op in &diff.upgrade {
            for sql in dialect.render_op(op, &before).unwrap() {
                out.push_str(&sql);
                out.push_str(";\n");
            }
            before.apply(op).unwrap();
        }
    }
    insta::assert_snapshot!(out);
}

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "tagged")]
pub struct Tagged {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    pub tags: Vec<String>,
    pub scores: Option<Vec<i64>>,
}

fn arrays_on_postgresql_only(db: &TestDb, pool: &Pool) {
    let dialect = pool.dialect();
    let models = migrate::models::Models {
        schema: migrate::schema::Schema {
            tables: vec![<Tagged as migrate::models::Model>::table()],
            ..Default::default()
        },
        ..Default::default()
    };
    let empty = migrate::schema::Schema::default();
    let diff = migrate::autogen::compare(&empty, &models, dialect, &mut |_| false);
    let [create] = diff.upgrade.as_slice() else { panic!("one create_table: {:?}", diff.upgrade) };
    let rendered = dialect.render_op(create, &empty);
    if db.backend() != Backend::Postgres {
        let error = rendered.unwrap_err().to_string();
        assert!(error.contains("column `tags` is an array (text[]), which only PostgreSQL has"), "{error}");
        return;
    }
    let mut conn = pool.get().unwrap();
    for sql in rendered.unwrap() {
        conn.execute(&sql).unwrap();
    }
    // Reflected, the table is what the model says: no false diff.
    let reflected = dialect.reflect(&mut conn, &Default::default()).unwrap();
    drop(conn);
    let again = migrate::autogen::compare(&reflected, &models, dialect, &mut |_| false);
    assert!(again.upgrade.iter().all(|op| !format!("{op:?}").contains("tagged")), "{:?}", again.upgrade);

    let mut s = pool.session();
    let rows = [
        Tagged { id: 0, tags: vec!["rust".into(), "sql".into()], scores: Some(vec![3, -1, i64::MAX]) },
        Tagged { id: 0, tags: vec![], scores: None },
    ];
    s.add_all(rows.clone());
    s.commit().unwrap();
    let mut s = pool.session();
    let read = s.query::<Tagged>(|q| q.order_by(Tagged::ID.asc())).unwrap();
    let values: Vec<(Vec<String>, Option<Vec<i64>>)> =
        read.iter().map(|h| (s[*h].tags.clone(), s[*h].scores.clone())).collect();
    assert_eq!(values, rows.iter().map(|r| (r.tags.clone(), r.scores.clone())).collect::<Vec<_>>());
    let found = s.query::<Tagged>(|q| q.filter(Tagged::TAGS.eq(vec!["rust".to_string(), "sql".to_string()]))).unwrap();
    assert_eq!(found, read[..1]);
}
