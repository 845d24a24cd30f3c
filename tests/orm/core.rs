//! Core: models at run time and statements, rendered on every dialect
//! (snapshots) and run on every backend.

use crate::common::{TestDb, fresh_db};
use migrate::db::{Backend, Connection};
use migrate::dialect;
use migrate::models::Model as _;
use migrate::orm::exec;
use migrate::orm::prelude::*;

/// One test per backend, so one failure does not hide the others.
macro_rules! per_backend {
    ($($name:ident),* $(,)?) => {
        mod per_backend {
            $(
                mod $name {
                    #[test]
                    fn sqlite() {
                        super::super::run(migrate::db::Backend::Sqlite, stringify!($name), super::super::$name);
                    }
                    #[test]
                    fn postgres() {
                        super::super::run(migrate::db::Backend::Postgres, stringify!($name), super::super::$name);
                    }
                    #[test]
                    fn mysql() {
                        super::super::run(migrate::db::Backend::Mysql, stringify!($name), super::super::$name);
                    }
                }
            )*
        }
    };
}

fn run(backend: Backend, name: &str, body: fn(&TestDb, &mut Connection)) {
    if let Some(db) = fresh_db(backend, name) {
        let mut conn = db.connect();
        create(&mut conn);
        body(&db, &mut conn);
    }
}

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "authors")]
pub struct Author {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(max_length = 100, unique)]
    pub name: String,
    #[model(references = "authors.id")]
    pub mentor_id: Option<i64>,
    pub rating: Option<f64>,
    #[model(skip)]
    pub note: String,
}

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "posts")]
pub struct Post {
    #[model(primary_key, autoincrement)]
    pub id: i32,
    #[model(references = "authors.id")]
    pub author_id: i64,
    #[model(max_length = 200)]
    pub title: String,
    pub views: i32,
    pub body: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "tags")]
pub struct PostTag {
    #[model(primary_key)]
    pub post_id: i32,
    #[model(primary_key, max_length = 50)]
    pub tag: String,
}

fn create(conn: &mut Connection) {
    let dialect = dialect::of(conn.backend());
    for table in [Author::table(), Post::table(), PostTag::table()] {
        for sql in dialect.create_table(&table) {
            conn.execute(&sql).unwrap();
        }
    }
}

fn author(name: &str, mentor_id: Option<i64>, rating: Option<f64>) -> Author {
    Author { name: name.into(), mentor_id, rating, ..Author::default() }
}

fn by_key(_db: &TestDb, conn: &mut Connection) {
    let mut ann = author("Ann", None, Some(4.5));
    ann.note = "not stored".into();
    exec::insert(conn, &mut ann).unwrap();
    assert!(ann.id > 0, "the generated key is filled in");
    let mut bob = author("Bob", Some(ann.id), None);
    exec::insert(conn, &mut bob).unwrap();
    assert_eq!(bob.id, ann.id + 1);

    let read: Author = exec::get(conn, &ann.id).unwrap().unwrap();
    assert_eq!(read, Author { note: String::new(), ..ann.clone() }, "skipped fields read as their default");
    bob.rating = Some(3.0);
    bob.name = "Bob B.".into();
    assert_eq!(exec::update(conn, &bob).unwrap(), 1);
    assert_eq!(exec::get::<Author>(conn, &bob.id).unwrap(), Some(bob.clone()));

    let mut tag = PostTag { post_id: 7, tag: "rust".into() };
    exec::insert(conn, &mut tag).unwrap();
    assert_eq!(exec::get::<PostTag>(conn, &(7, "rust".to_string())).unwrap(), Some(tag.clone()));
    assert_eq!(exec::delete::<PostTag>(conn, &(7, "rust".to_string())).unwrap(), 1);
    assert_eq!(exec::get::<PostTag>(conn, &(7, "rust".to_string())).unwrap(), None);

    assert_eq!(exec::delete::<Author>(conn, &bob.id).unwrap(), 1);
    assert_eq!(exec::get::<Author>(conn, &bob.id).unwrap(), None);
}

per_backend!(by_key);

#[test]
fn model_statements_render_once_per_dialect() {
    let mut out = String::new();
    for name in ["postgresql", "mysql", "sqlite"] {
        let d = dialect::by_name(name).unwrap();
        let s = Author::statements();
        for shape in [
            migrate::orm::model::Shape::Get,
            migrate::orm::model::Shape::Insert,
            migrate::orm::model::Shape::InsertGenerated,
            migrate::orm::model::Shape::InsertReturning,
            migrate::orm::model::Shape::UpdateByKey,
            migrate::orm::model::Shape::DeleteByKey,
        ] {
            let first = s.get::<Author>(d.as_ref(), shape) as *const _;
            assert_eq!(first, s.get::<Author>(d.as_ref(), shape) as *const _, "rendered once");
            out.push_str(&format!("{name} {shape:?}: {}\n", s.get::<Author>(d.as_ref(), shape).to_sql(d.as_ref())));
        }
    }
    insta::assert_snapshot!(out);
}
