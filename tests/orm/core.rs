//! Core: models at run time and statements, rendered on every dialect
//! (snapshots) and run on every backend.

use crate::common::{TestDb, fresh_db};
use migrate::db::{Backend, Connection};
use migrate::dialect;
use migrate::models::Model as _;
use migrate::orm::exec;
use migrate::orm::prelude::*;

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
    #[model(references = "authors.id", references_model = "Author")]
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

/// One column of every type a model field can have.
#[derive(Debug, Clone, PartialEq, migrate::models::Model)]
#[model(table = "every_type")]
pub struct EveryType {
    #[model(primary_key)]
    pub id: uuid::Uuid,
    pub small: i16,
    pub int: i32,
    pub flag: bool,
    pub single: f32,
    pub double: f64,
    #[model(sql_type = "numeric(12,3)")]
    pub price: rust_decimal::Decimal,
    pub text: String,
    pub bytes: Vec<u8>,
    pub day: chrono::NaiveDate,
    pub clock: chrono::NaiveTime,
    pub local: chrono::NaiveDateTime,
    pub instant: chrono::DateTime<chrono::Utc>,
    pub doc: serde_json::Value,
    pub missing: Option<chrono::NaiveDate>,
}

fn create(conn: &mut Connection) {
    let dialect = dialect::of(conn.backend());
    for table in [Author::table(), Post::table(), PostTag::table(), EveryType::table()] {
        for sql in dialect.create_table(&table) {
            conn.execute(&sql).unwrap();
        }
    }
}

#[test]
fn the_derive_leaves_skipped_fields_out() {
    let columns: Vec<String> = Author::table().columns.into_iter().map(|c| c.name).collect();
    assert_eq!(columns, ["id", "name", "mentor_id", "rating"]);
    assert_eq!(<Author as Model>::COLUMNS, ["id", "name", "mentor_id", "rating"]);
    assert_eq!(<PostTag as Model>::KEY, ["post_id", "tag"]);
    assert_eq!(<PostTag as Model>::GENERATED, None);
    assert_eq!(<Author as Model>::GENERATED, Some("id"));
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
    let mut changed = bob.clone();
    changed.rating = Some(1.0);
    changed.name = "not written".into();
    assert_eq!(exec::update_columns(conn, &changed, &[3]).unwrap(), 1, "only rating (column 3)");
    assert_eq!(exec::get::<Author>(conn, &bob.id).unwrap(), Some(Author { rating: Some(1.0), ..bob.clone() }));
    assert!(exec::update_columns(conn, &changed, &[0]).is_err(), "a key column is not updated");

    let mut tag = PostTag { post_id: 7, tag: "rust".into() };
    exec::insert(conn, &mut tag).unwrap();
    assert_eq!(exec::update(conn, &tag).unwrap_err().to_string(), "update of tags sets no column");
    assert_eq!(exec::get::<PostTag>(conn, &(7, "rust".to_string())).unwrap(), Some(tag.clone()));
    assert_eq!(exec::delete::<PostTag>(conn, &(7, "rust".to_string())).unwrap(), 1);
    assert_eq!(exec::get::<PostTag>(conn, &(7, "rust".to_string())).unwrap(), None);

    assert_eq!(exec::delete::<Author>(conn, &bob.id).unwrap(), 1);
    assert_eq!(exec::get::<Author>(conn, &bob.id).unwrap(), None);
}

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
            let first = s.get::<Author>(d.as_ref(), shape).map(|t| t as *const _);
            assert_eq!(first, s.get::<Author>(d.as_ref(), shape).map(|t| t as *const _), "rendered once");
            let sql = match s.get::<Author>(d.as_ref(), shape) {
                Ok(template) => template.to_sql(d.as_ref()),
                Err(e) => format!("error: {e}"),
            };
            out.push_str(&format!("{name} {shape:?}: {sql}\n"));
        }
    }
    insta::assert_snapshot!(out);
}

#[test]
fn update_templates_render_once_per_column_set() {
    for (name, sql) in [
        ("postgresql", r#"UPDATE "authors" SET "name" = $1, "rating" = $2 WHERE ("id" = $3)"#),
        ("mysql", "UPDATE `authors` SET `name` = ?, `rating` = ? WHERE (`id` = ?)"),
        ("sqlite", r#"UPDATE "authors" SET "name" = ?, "rating" = ? WHERE ("id" = ?)"#),
    ] {
        let d = dialect::by_name(name).unwrap();
        let both = exec::update_columns_template::<Author>(d.as_ref(), &[1, 3]).unwrap();
        assert_eq!(both.to_sql(d.as_ref()), sql);
        let again = exec::update_columns_template::<Author>(d.as_ref(), &[1, 3]).unwrap();
        assert!(std::sync::Arc::ptr_eq(&both, &again), "{name}: rendered once");
        let rating = exec::update_columns_template::<Author>(d.as_ref(), &[3]).unwrap();
        assert!(!std::sync::Arc::ptr_eq(&both, &rating), "{name}: each column set has its own");
        assert!(exec::update_columns_template::<Author>(d.as_ref(), &[0, 3]).is_err(), "{name}: a key column");
        assert!(exec::update_columns_template::<Author>(d.as_ref(), &[]).is_err(), "{name}: no column");
    }
}

/// Ann mentors Bob and Dee, Bob mentors Cid; Dee has no posts.
fn seed(conn: &mut Connection) {
    let mut ann = author("Ann", None, Some(4.5));
    exec::insert(conn, &mut ann).unwrap();
    let mut bob = author("Bob", Some(ann.id), None);
    exec::insert(conn, &mut bob).unwrap();
    let mut cid = author("Cid", Some(bob.id), Some(3.0));
    exec::insert(conn, &mut cid).unwrap();
    let mut dee = author("Dee", Some(ann.id), Some(5.0));
    exec::insert(conn, &mut dee).unwrap();
    let posts = insert_into(Post::TABLE)
        .row(post(ann.id, "Hello", 10, Some("first")))
        .row(post(ann.id, "Rust tips", 30, None))
        .row(post(bob.id, "hello again", 5, None))
        .row(post(cid.id, "Cooking", 20, Some("pasta")));
    assert_eq!(exec::execute(conn, &posts).unwrap(), 4);
}

fn post(author_id: i64, title: &str, views: i32, body: Option<&str>) -> Row {
    Row::new().set(Post::AUTHOR_ID, author_id).set(Post::TITLE, title).set(Post::VIEWS, views).set(Post::BODY, body)
}

fn names(conn: &mut Connection, filter: Expr<bool>) -> Vec<String> {
    let q = select(Author::NAME).from(Author::TABLE).filter(filter).order_by(Author::NAME.asc());
    exec::fetch::<String>(conn, &q).unwrap()
}

/// Every statement form of the tests, by name, for the snapshots.
fn statements() -> Vec<(&'static str, Box<dyn Statement>)> {
    let ranked = ranked_cte();
    let chain = chain_cte();
    let totals = totals();
    vec![
        (
            "select_columns",
            Box::new(
                select((Author::NAME, Author::RATING))
                    .from(Author::TABLE)
                    .filter(Author::RATING.is_not_null())
                    .order_by(Author::RATING.desc()),
            ),
        ),
        (
            "nulls_first",
            Box::new(
                select(Author::NAME)
                    .from(Author::TABLE)
                    .order_by(Author::RATING.asc().nulls_first())
                    .order_by(Author::NAME.asc()),
            ),
        ),
        ("nulls_last", Box::new(select(Author::NAME).from(Author::TABLE).order_by(Author::RATING.desc().nulls_last()))),
        ("distinct", Box::new(select(Post::AUTHOR_ID).distinct().from(Post::TABLE).order_by(Post::AUTHOR_ID.asc()))),
        (
            "where_and_or_not",
            Box::new(
                select(Post::TITLE)
                    .from(Post::TABLE)
                    .filter(Post::VIEWS.gt(5).and(not(Post::TITLE.like("%tips"))).or(Post::VIEWS.eq(30)))
                    .order_by(Post::ID.asc()),
            ),
        ),
        (
            "ilike",
            Box::new(
                select(Post::TITLE).from(Post::TABLE).filter(Post::TITLE.ilike("HELLO%")).order_by(Post::ID.asc()),
            ),
        ),
        ("in_list", Box::new(select(Author::NAME).from(Author::TABLE).filter(Author::NAME.in_list(["Ann", "Cid"])))),
        (
            "in_integers",
            Box::new(
                select(Post::TITLE).from(Post::TABLE).filter(Post::VIEWS.in_list([5, 20, 7])).order_by(Post::ID.asc()),
            ),
        ),
        (
            "not_in_integers",
            Box::new(
                select(Post::TITLE).from(Post::TABLE).filter(Post::VIEWS.not_in_list([5, 20])).order_by(Post::ID.asc()),
            ),
        ),
        (
            "in_empty_list",
            Box::new(select(Author::NAME).from(Author::TABLE).filter(Author::NAME.in_list(Vec::<String>::new()))),
        ),
        (
            "in_select",
            Box::new(
                select(Author::NAME)
                    .from(Author::TABLE)
                    .filter(Author::ID.in_select(select(Post::AUTHOR_ID).from(Post::TABLE).filter(Post::VIEWS.ge(20))))
                    .order_by(Author::NAME.asc()),
            ),
        ),
        (
            "between",
            Box::new(
                select(Post::VIEWS).from(Post::TABLE).filter(Post::VIEWS.between(5, 20)).order_by(Post::VIEWS.asc()),
            ),
        ),
        (
            "exists_correlated",
            Box::new(
                select(Author::NAME)
                    .from(Author::TABLE)
                    .filter(not_exists(select(Post::ID).from(Post::TABLE).filter(Post::AUTHOR_ID.eq(Author::ID)))),
            ),
        ),
        (
            "limit_offset",
            Box::new(select(Author::NAME).from(Author::TABLE).order_by(Author::NAME.asc()).limit(2).offset(1)),
        ),
        ("offset_only", Box::new(select(Author::NAME).from(Author::TABLE).order_by(Author::NAME.asc()).offset(3))),
        (
            "group_by_having",
            Box::new(
                select((
                    Post::AUTHOR_ID,
                    count_star(),
                    sum(Post::VIEWS),
                    min(Post::VIEWS),
                    max(Post::VIEWS),
                    avg(Post::VIEWS),
                ))
                .from(Post::TABLE)
                .group_by(Post::AUTHOR_ID)
                .having(count_star().gt(1)),
            ),
        ),
        (
            "aggregate_distinct_filter",
            Box::new(
                select((
                    count(Post::AUTHOR_ID).distinct(),
                    count_star().filter(Post::VIEWS.gt(10)),
                    sum(Post::VIEWS).filter(Post::BODY.is_null()),
                ))
                .from(Post::TABLE),
            ),
        ),
        ("expressions", Box::new(expressions())),
        (
            "inner_join",
            Box::new(
                select((Author::NAME, Post::TITLE))
                    .from(Author::TABLE)
                    .join(Post::TABLE, Post::AUTHOR_ID.eq(Author::ID))
                    .order_by(Post::ID.asc()),
            ),
        ),
        (
            "left_join",
            Box::new(
                select((Author::NAME, Post::TITLE))
                    .from(Author::TABLE)
                    .left_join(Post::TABLE, Post::AUTHOR_ID.eq(Author::ID))
                    .filter(Post::ID.is_null()),
            ),
        ),
        (
            "right_join",
            Box::new(
                select((Post::TITLE, Author::NAME))
                    .from(Post::TABLE)
                    .right_join(Author::TABLE, Post::AUTHOR_ID.eq(Author::ID))
                    .filter(Post::ID.is_null()),
            ),
        ),
        (
            "full_join",
            Box::new(
                select((Post::TITLE, Author::NAME))
                    .from(Post::TABLE)
                    .full_join(Author::TABLE, Post::AUTHOR_ID.eq(Author::ID)),
            ),
        ),
        ("self_join", Box::new(self_join())),
        (
            "scalar_subquery",
            Box::new(
                select((
                    Author::NAME,
                    scalar::<i64>(select(count_star()).from(Post::TABLE).filter(Post::AUTHOR_ID.eq(Author::ID))),
                ))
                .from(Author::TABLE)
                .order_by(Author::NAME.asc()),
            ),
        ),
        (
            "from_subquery",
            Box::new(select(totals.col::<i64>("total")).from(&totals).order_by(totals.col::<i64>("total").desc())),
        ),
        (
            "cte_window_report",
            Box::new(
                select((Author::NAME, ranked.col::<String>("title")))
                    .with(&ranked)
                    .from(Author::TABLE)
                    .join(&ranked, ranked.col::<i64>("author_id").eq(Author::ID))
                    .filter(ranked.col::<i64>("rn").le(1))
                    .order_by(Author::NAME.asc()),
            ),
        ),
        ("window_functions", Box::new(window_functions())),
        (
            "recursive_cte",
            Box::new(
                select((chain.col::<String>("name"), chain.col::<i64>("depth")))
                    .with(&chain)
                    .from(&chain)
                    .order_by(chain.col::<i64>("depth").asc()),
            ),
        ),
        (
            "union",
            Box::new(
                select(Author::NAME)
                    .from(Author::TABLE)
                    .filter(Author::RATING.gt(4.0))
                    .union(select(Author::NAME).from(Author::TABLE).filter(Author::NAME.eq("Bob"))),
            ),
        ),
        (
            "union_all",
            Box::new(
                select(Post::AUTHOR_ID)
                    .from(Post::TABLE)
                    .union_all(select(Author::ID).from(Author::TABLE).filter(Author::NAME.eq("Ann"))),
            ),
        ),
        (
            "intersect",
            Box::new(select(Author::ID).from(Author::TABLE).intersect(select(Post::AUTHOR_ID).from(Post::TABLE))),
        ),
        ("except", Box::new(select(Author::ID).from(Author::TABLE).except(select(Post::AUTHOR_ID).from(Post::TABLE)))),
        (
            "insert_rows",
            Box::new(insert_into(Post::TABLE).row(post(4, "Two", 1, None)).row(post(4, "Three", 2, Some("b")))),
        ),
        (
            "insert_select",
            Box::new(insert_into(PostTag::TABLE).select(
                &[col(PostTag::POST_ID), col(PostTag::TAG)],
                select((Post::ID, value("popular".to_string()))).from(Post::TABLE).filter(Post::VIEWS.ge(20)),
            )),
        ),
        (
            "upsert_update",
            Box::new(
                insert_into(Author::TABLE)
                    .row(Row::new().set(Author::NAME, "Ann").set(Author::RATING, Some(1.5)))
                    .on_conflict_update(&[col(Author::NAME)], &[col(Author::RATING)]),
            ),
        ),
        (
            "upsert_nothing",
            Box::new(
                insert_into(Author::TABLE)
                    .row(Row::new().set(Author::NAME, "Ann").set(Author::RATING, Some(9.0)))
                    .on_conflict_do_nothing(&[col(Author::NAME)]),
            ),
        ),
        (
            "upsert_set",
            Box::new(
                insert_into(Author::TABLE)
                    .row(Row::new().set(Author::NAME, "Ann").set(Author::RATING, Some(9.0)))
                    .on_conflict_update(&[col(Author::NAME)], &[])
                    .on_conflict_set(Author::RATING, Some(2.5)),
            ),
        ),
        (
            "update_where",
            Box::new(
                update(Post::TABLE)
                    .set(Post::VIEWS, Post::VIEWS.add(1))
                    .set(Post::BODY, None::<String>)
                    .filter(Post::AUTHOR_ID.eq(1i64)),
            ),
        ),
        (
            "update_returning",
            Box::new(update(Post::TABLE).set(Post::VIEWS, 0).filter(Post::TITLE.eq("Cooking")).returning(Post::ID)),
        ),
        ("delete_where", Box::new(delete_from(Post::TABLE).filter(Post::VIEWS.lt(10)))),
        (
            "delete_returning",
            Box::new(delete_from(Post::TABLE).filter(Post::VIEWS.lt(10)).returning((Post::ID, Post::TITLE))),
        ),
        (
            "insert_returning",
            Box::new(insert_into(Author::TABLE).row(Row::new().set(Author::NAME, "Eve")).returning(Author::ID)),
        ),
        (
            "text",
            Box::new(
                text("SELECT name FROM authors WHERE rating > :min AND name <> :not_name ORDER BY name")
                    .bind("min", 4.0)
                    .bind_str("not_name", "Zed"),
            ),
        ),
    ]
}

fn expressions() -> Select {
    let grade = case([(Author::RATING.gt(4.0), value("high".to_string()))], Some(value("low".to_string())));
    select((
        lower(Author::NAME),
        upper(Author::NAME).as_("shout"),
        coalesce(Author::RATING, 0.0),
        grade,
        Author::ID.cast::<String>(migrate::schema::ColumnType::Text),
        Author::ID.mul(2).add(1),
    ))
    .from(Author::TABLE)
    .order_by(Author::ID.asc())
}

fn self_join() -> Select {
    let mentor = Author::TABLE.alias("mentor");
    select((Author::NAME, mentor.col(Author::NAME)))
        .from(Author::TABLE)
        .join(&mentor, mentor.col(Author::ID).eq(Author::MENTOR_ID))
        .order_by(Author::NAME.asc())
}

fn totals() -> migrate::orm::query::Subquery {
    select((Post::AUTHOR_ID, sum(Post::VIEWS).as_("total"))).from(Post::TABLE).group_by(Post::AUTHOR_ID).alias("totals")
}

fn ranked_cte() -> migrate::orm::query::Cte {
    let by_views = Window::partition_by(Post::AUTHOR_ID).order_by(Post::VIEWS.desc());
    cte("ranked", select((Post::AUTHOR_ID, Post::TITLE, row_number().over(by_views).as_("rn"))).from(Post::TABLE))
}

fn chain_cte() -> migrate::orm::query::Cte {
    let chain = cte_ref("chain");
    let anchor = select((Author::ID, Author::NAME, Author::MENTOR_ID, value(0i64)))
        .from(Author::TABLE)
        .filter(Author::NAME.eq("Cid"));
    let step = select((Author::ID, Author::NAME, Author::MENTOR_ID, chain.col::<i64>("depth").add(1i64)))
        .from(Author::TABLE)
        .join(&chain, chain.col::<Option<i64>>("mentor_id").eq(Author::ID));
    recursive_cte("chain", &["id", "name", "mentor_id", "depth"], anchor, step)
}

fn window_functions() -> Select {
    let by_views = || Window::ordered(Post::VIEWS.desc());
    let running = Window::ordered(Post::ID.asc()).rows(FrameBound::UnboundedPreceding, FrameBound::CurrentRow);
    select((
        Post::TITLE,
        rank().over(by_views()),
        dense_rank().over(by_views()),
        lag(Post::VIEWS, 1).over(by_views()),
        lead(Post::VIEWS, 1).over(by_views()),
        first_value(Post::TITLE).over(Window::partition_by(Post::AUTHOR_ID).order_by(Post::ID.asc())),
        sum(Post::VIEWS).over(running),
    ))
    .from(Post::TABLE)
    .order_by(Post::ID.asc())
}

#[test]
fn statements_render_on_every_dialect() {
    let mut out = String::new();
    for (name, statement) in statements() {
        out.push_str(&format!("## {name}\n"));
        for dialect_name in ["postgresql", "mysql", "sqlite"] {
            let d = dialect::by_name(dialect_name).unwrap();
            let sql = statement.to_sql(d.as_ref()).unwrap_or_else(|e| format!("error: {e}"));
            out.push_str(&format!("{dialect_name}: {sql}\n"));
        }
    }
    insta::assert_snapshot!(out);
}

/// A list of integers renders as relationship loading's key lists do: one
/// text for every length on PostgreSQL (an array) and SQLite (`json_each`),
/// a few padded sizes on MySQL/MariaDB, so that the prepared statements
/// stay few; a list too long to pad is not padded.
#[test]
fn integer_lists_render_in_a_few_texts() {
    use migrate::dialect::query as ast;
    let query = |n: i32| select(Post::TITLE).from(Post::TABLE).filter(Post::VIEWS.in_list(0..n));
    for (name, texts) in [("postgresql", 1), ("sqlite", 1), ("mysql", 12)] {
        let d = dialect::by_name(name).unwrap();
        let rendered: std::collections::BTreeSet<String> =
            (1..=600).map(|n| query(n).to_sql(d.as_ref()).unwrap()).collect();
        assert_eq!(rendered.len(), texts, "{name}: {rendered:#?}");
    }
    let mysql = dialect::by_name("mysql").unwrap();
    let old = ast::Capabilities { key_list: ast::KeyList::Padded, ..mysql.latest_capabilities() };
    for (n, binds) in [(3, 4), (600, 1024), (5000, 5000)] {
        let select = query(n).into_ast();
        let rendered = ast::render(mysql.as_ref(), old, ast::StatementRef::Select(&select)).unwrap();
        assert_eq!(rendered.binds.len(), binds, "{n} values");
    }
}

fn statement(name: &str) -> Box<dyn Statement> {
    statements().into_iter().find(|(n, _)| *n == name).map(|(_, s)| s).unwrap()
}

fn fetch<R: FromRow>(conn: &mut Connection, name: &str) -> Vec<R> {
    exec::fetch::<R>(conn, &*statement(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Author, count, sum, min, max, avg.
type Grouped = (i64, i64, Option<i64>, Option<i32>, Option<i32>, Option<f64>);

/// Title, rank, dense rank, lag, lead, first value, running sum.
type Windowed = (String, i64, i64, Option<i32>, Option<i32>, String, i64);

fn selects(_db: &TestDb, conn: &mut Connection) {
    seed(conn);
    let rows: Vec<(String, Option<f64>)> = fetch(conn, "select_columns");
    assert_eq!(rows, [("Dee".into(), Some(5.0)), ("Ann".into(), Some(4.5)), ("Cid".into(), Some(3.0))]);
    assert_eq!(fetch::<String>(conn, "nulls_first"), ["Bob", "Cid", "Ann", "Dee"]);
    assert_eq!(fetch::<String>(conn, "nulls_last"), ["Dee", "Ann", "Cid", "Bob"]);
    assert_eq!(fetch::<i64>(conn, "distinct"), [1, 2, 3]);
    assert_eq!(fetch::<String>(conn, "where_and_or_not"), ["Hello", "Rust tips", "Cooking"]);
    assert_eq!(fetch::<String>(conn, "ilike"), ["Hello", "hello again"]);
    let mut in_list = fetch::<String>(conn, "in_list");
    in_list.sort();
    assert_eq!(in_list, ["Ann", "Cid"]);
    assert_eq!(fetch::<String>(conn, "in_integers"), ["hello again", "Cooking"]);
    assert_eq!(fetch::<String>(conn, "not_in_integers"), ["Hello", "Rust tips"]);
    assert!(fetch::<String>(conn, "in_empty_list").is_empty());
    assert_eq!(fetch::<String>(conn, "in_select"), ["Ann", "Cid"]);
    assert_eq!(fetch::<i32>(conn, "between"), [5, 10, 20]);
    assert_eq!(fetch::<String>(conn, "exists_correlated"), ["Dee"]);
    assert_eq!(
        names(conn, exists(select(Post::ID).from(Post::TABLE).filter(Post::AUTHOR_ID.eq(Author::ID)))),
        ["Ann", "Bob", "Cid"]
    );
    assert_eq!(fetch::<String>(conn, "limit_offset"), ["Bob", "Cid"]);
    assert_eq!(fetch::<String>(conn, "offset_only"), ["Dee"]);
    assert_eq!(names(conn, Author::RATING.ge(4.5).or(Author::MENTOR_ID.eq(2i64))), ["Ann", "Cid", "Dee"]);
    assert_eq!(names(conn, Author::MENTOR_ID.is_null()), ["Ann"]);
    let computed: Vec<(String, String, f64, String, String, i64)> = fetch(conn, "expressions");
    assert_eq!(computed[0], ("ann".into(), "ANN".into(), 4.5, "high".into(), "1".into(), 3));
    assert_eq!(computed[1], ("bob".into(), "BOB".into(), 0.0, "low".into(), "2".into(), 5));
    let grouped: Vec<Grouped> = fetch(conn, "group_by_having");
    assert_eq!(grouped, [(1, 2, Some(40), Some(10), Some(30), Some(20.0))]);
    let aggregates: Vec<(i64, i64, Option<i64>)> = fetch(conn, "aggregate_distinct_filter");
    assert_eq!(aggregates, [(3, 2, Some(35))]);
}

fn joins(db: &TestDb, conn: &mut Connection) {
    seed(conn);
    let inner: Vec<(String, String)> = fetch(conn, "inner_join");
    assert_eq!(inner.len(), 4);
    assert_eq!(inner[3], ("Cid".into(), "Cooking".into()));
    let left: Vec<(String, Option<String>)> = fetch(conn, "left_join");
    assert_eq!(left, [("Dee".into(), None)]);
    let right: Vec<(Option<String>, String)> = fetch(conn, "right_join");
    assert_eq!(right, [(None, "Dee".into())]);
    let full = exec::fetch::<(Option<String>, Option<String>)>(conn, &*statement("full_join"));
    match db.backend() {
        Backend::Mysql => assert_eq!(full.unwrap_err().to_string(), "mysql has no FULL JOIN"),
        _ => assert_eq!(full.unwrap().len(), 5),
    }
    let with_posts = select((Author::ALL, Post::ALL, Author::NAME))
        .from(Author::TABLE)
        .left_join(Post::TABLE, Post::AUTHOR_ID.eq(Author::ID))
        .order_by(Author::ID.asc())
        .order_by(Post::ID.asc());
    let rows: Vec<(Author, Nullable<Post>, String)> = exec::fetch(conn, &with_posts).unwrap();
    let summary: Vec<(String, Option<String>, String)> =
        rows.into_iter().map(|(a, p, n)| (a.name, p.0.map(|p| p.title), n)).collect();
    assert_eq!(summary[0], ("Ann".into(), Some("Hello".into()), "Ann".into()));
    assert_eq!(summary[4], ("Dee".into(), None, "Dee".into()), "the absent post's columns are skipped");
    let pairs: Vec<(String, String)> = fetch(conn, "self_join");
    assert_eq!(pairs, [("Bob".into(), "Ann".into()), ("Cid".into(), "Bob".into()), ("Dee".into(), "Ann".into())]);
}

fn subqueries_ctes_windows(_db: &TestDb, conn: &mut Connection) {
    seed(conn);
    let counts: Vec<(String, i64)> = fetch(conn, "scalar_subquery");
    assert_eq!(counts, [("Ann".into(), 2), ("Bob".into(), 1), ("Cid".into(), 1), ("Dee".into(), 0)]);
    assert_eq!(fetch::<i64>(conn, "from_subquery"), [40, 20, 5]);
    let top: Vec<(String, String)> = fetch(conn, "cte_window_report");
    assert_eq!(
        top,
        [("Ann".into(), "Rust tips".into()), ("Bob".into(), "hello again".into()), ("Cid".into(), "Cooking".into())]
    );
    let windows: Vec<Windowed> = fetch(conn, "window_functions");
    assert_eq!(
        windows,
        [
            ("Hello".into(), 3, 3, Some(20), Some(5), "Hello".into(), 10),
            ("Rust tips".into(), 1, 1, None, Some(20), "Hello".into(), 40),
            ("hello again".into(), 4, 4, Some(10), None, "hello again".into(), 45),
            ("Cooking".into(), 2, 2, Some(30), Some(10), "Cooking".into(), 65),
        ]
    );
    let chain: Vec<(String, i64)> = fetch(conn, "recursive_cte");
    assert_eq!(chain, [("Cid".into(), 0), ("Bob".into(), 1), ("Ann".into(), 2)]);
}

fn set_operations(_db: &TestDb, conn: &mut Connection) {
    seed(conn);
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(sorted(fetch(conn, "union")), ["Ann", "Bob", "Dee"]);
    let mut all = fetch::<i64>(conn, "union_all");
    all.sort();
    assert_eq!(all, [1, 1, 1, 2, 3]);
    let mut both = fetch::<i64>(conn, "intersect");
    both.sort();
    assert_eq!(both, [1, 2, 3]);
    assert_eq!(fetch::<i64>(conn, "except"), [4]);
}

fn writes(db: &TestDb, conn: &mut Connection) {
    seed(conn);
    assert_eq!(exec::execute(conn, &*statement("insert_rows")).unwrap(), 2);
    assert_eq!(exec::execute(conn, &*statement("insert_select")).unwrap(), 2);
    let tags =
        exec::fetch::<(i32, String)>(conn, &select(PostTag::ALL).from(PostTag::TABLE).order_by(PostTag::POST_ID.asc()))
            .unwrap();
    assert_eq!(tags, [(2, "popular".into()), (4, "popular".into())]);
    exec::execute(conn, &*statement("upsert_update")).unwrap();
    exec::execute(conn, &*statement("upsert_nothing")).unwrap();
    let ann =
        exec::fetch::<Author>(conn, &select(Author::ALL).from(Author::TABLE).filter(Author::NAME.eq("Ann"))).unwrap();
    assert_eq!(ann.len(), 1);
    assert_eq!(ann[0].rating, Some(1.5), "updated by the first upsert, kept by the second");
    exec::execute(conn, &*statement("upsert_set")).unwrap();
    let rating =
        exec::fetch::<Option<f64>>(conn, &select(Author::RATING).from(Author::TABLE).filter(Author::NAME.eq("Ann")));
    assert_eq!(rating.unwrap(), [Some(2.5)]);
    let keyless =
        insert_into(Author::TABLE).row(Row::new().set(Author::NAME, "Ann")).on_conflict_set(Author::RATING, None);
    assert_eq!(
        exec::execute(conn, &keyless).unwrap_err().to_string(),
        "insert into authors: an upsert names no unique key"
    );
    assert_eq!(exec::execute(conn, &*statement("update_where")).unwrap(), 2);
    let ann_posts = exec::fetch::<Post>(
        conn,
        &select(Post::ALL).from(Post::TABLE).filter(Post::AUTHOR_ID.eq(1i64)).order_by(Post::ID.asc()),
    )
    .unwrap();
    assert_eq!(ann_posts.iter().map(|p| (p.views, p.body.clone())).collect::<Vec<_>>(), [(11, None), (31, None)]);
    let returning = exec::fetch::<i32>(conn, &*statement("update_returning"));
    let deleted = exec::fetch::<(i32, String)>(conn, &*statement("delete_returning"));
    let inserted = exec::fetch::<i64>(conn, &*statement("insert_returning"));
    match db.backend() {
        Backend::Mysql => {
            assert_eq!(returning.unwrap_err().to_string(), "mysql has no UPDATE ... RETURNING");
            assert_eq!(deleted.unwrap_err().to_string(), "mysql has no DELETE ... RETURNING");
            assert_eq!(inserted.unwrap_err().to_string(), "mysql has no INSERT ... RETURNING");
            assert_eq!(exec::execute(conn, &*statement("delete_where")).unwrap(), 3);
        }
        _ => {
            assert_eq!(returning.unwrap(), [4]);
            let mut deleted = deleted.unwrap();
            deleted.sort();
            assert_eq!(
                deleted,
                [(3, "hello again".into()), (4, "Cooking".into()), (5, "Two".into()), (6, "Three".into())]
            );
            // Upserts may use up generated keys (PostgreSQL sequences do).
            assert!(inserted.unwrap()[0] > 4);
            assert_eq!(exec::execute(conn, &*statement("delete_where")).unwrap(), 0);
        }
    }
}

fn insert_models(db: &TestDb, conn: &mut Connection) {
    let batch = [author("Ann", None, Some(1.0)), author("Bob", None, None), author("Cid", None, Some(2.0))];
    let insert = insert_into(Author::TABLE).models(&batch);
    match db.backend() {
        Backend::Mysql => assert_eq!(exec::execute(conn, &insert).unwrap(), 3),
        _ => assert_eq!(exec::fetch::<i64>(conn, &insert.returning(Author::ID)).unwrap(), [1, 2, 3]),
    }
    let read =
        exec::fetch::<Author>(conn, &select(Author::ALL).from(Author::TABLE).order_by(Author::ID.asc())).unwrap();
    let expected: Vec<Author> = batch.iter().zip(1..).map(|(a, id)| Author { id, ..a.clone() }).collect();
    assert_eq!(read, expected);

    // Plain inserts of one shape share one rendered text; each statement
    // still sends its own values, and another number of rows its own text.
    let batches = [
        vec![author("Dee", Some(1), Some(3.0)), author("Eve", Some(2), None)],
        vec![author("Fay", None, Some(4.0)), author("Gus", Some(3), Some(5.0))],
    ];
    for batch in &batches {
        assert_eq!(exec::execute(conn, &insert_into(Author::TABLE).models(batch)).unwrap(), 2);
    }
    let one = [author("Hal", Some(4), None)];
    assert_eq!(exec::execute(conn, &insert_into(Author::TABLE).models(&one)).unwrap(), 1);
    let read = exec::fetch::<Author>(
        conn,
        &select(Author::ALL).from(Author::TABLE).filter(Author::ID.gt(3)).order_by(Author::ID.asc()),
    )
    .unwrap();
    let expected: Vec<Author> =
        batches.iter().flatten().chain(&one).zip(4..).map(|(a, id)| Author { id, ..a.clone() }).collect();
    assert_eq!(read, expected);

    // Models borrowed by the statement render as the same rows given one by
    // one, mixed with rows and behind an upsert too (rendered in full).
    let d = dialect::of(db.backend());
    let as_row = |a: &Author| {
        Row::new().set(Author::NAME, a.name.clone()).set(Author::MENTOR_ID, a.mentor_id).set(Author::RATING, a.rating)
    };
    let by_rows = batches[1].iter().fold(insert_into(Author::TABLE), |q, a| q.row(as_row(a)));
    let by_models = insert_into(Author::TABLE).models(&batches[1]);
    assert_eq!(by_models.render(d).unwrap(), by_rows.render(d).unwrap());
    let mixed = insert_into(Author::TABLE).models(&batches[1][..1]).row(as_row(&batches[1][1]));
    assert_eq!(mixed.render(d).unwrap(), by_rows.render(d).unwrap());
    let again = [author("Ann", None, None), author("Ivy", None, Some(6.0))];
    let upsert = insert_into(Author::TABLE).models(&again).on_conflict_do_nothing(&[col(Author::NAME)]);
    // MySQL/MariaDB count the row kept too: the connection counts the rows found.
    let counted = if db.backend() == Backend::Mysql { 2 } else { 1 };
    assert_eq!(exec::execute(conn, &upsert).unwrap(), counted, "only Ivy is new");
    let ivy = select(Author::ALL).from(Author::TABLE).filter(Author::NAME.eq("Ivy"));
    assert_eq!(exec::fetch::<Author>(conn, &ivy).unwrap()[0].rating, Some(6.0));

    // A model whose key is set and one whose key is not have different
    // columns: refused, nothing sent.
    let keyed = [Author { id: 50, ..author("Jo", None, None) }, author("Kim", None, None)];
    let refused = exec::execute(conn, &insert_into(Author::TABLE).models(&keyed)).unwrap_err();
    assert!(refused.to_string().contains("a row's values do not match its columns"), "{refused}");
    assert!(insert_into(Author::TABLE).models(&keyed[1..]).models(&keyed[..1]).to_sql(d).is_err());
    assert!(insert_into(Author::TABLE).models::<Author>(&[]).to_sql(d).is_err(), "no rows");
}

fn raw_text(db: &TestDb, conn: &mut Connection) {
    seed(conn);
    assert_eq!(fetch::<(String,)>(conn, "text"), [("Ann".to_string(),), ("Dee".to_string(),)]);
    let q = text("SELECT id, name, mentor_id, rating FROM authors WHERE mentor_id = :m ORDER BY id").bind("m", 1i64);
    let mentored: Vec<Author> = exec::fetch(conn, &q).unwrap();
    assert_eq!(mentored.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["Bob", "Dee"]);
    let missing = exec::fetch::<(i64,)>(conn, &text("SELECT :a"));
    assert_eq!(missing.unwrap_err().to_string(), "text statement: no value bound for `:a`");
    // A bare parameter in a select list: MySQL/MariaDB report its column
    // as NULL-typed, which their client library cannot read. An error that
    // says to cast it, not a panic, and the connection goes on.
    let bare = exec::fetch::<String>(conn, &text("SELECT :a").bind_str("a", "x"));
    if db.backend() == Backend::Mysql {
        let error = bare.unwrap_err().to_string();
        assert!(error.contains("has no type") && error.contains("CAST(:x AS CHAR)"), "{error}");
        assert_eq!(fetch::<(String,)>(conn, "text").len(), 2);
    } else {
        assert_eq!(bare.unwrap(), ["x"]);
    }
}

fn injection_round_trips(db: &TestDb, conn: &mut Connection) {
    let mut hostile = vec![
        "O'Brien",
        "back\\slash\\",
        "semi; DROP TABLE authors; --",
        "\"double\" `tick`",
        "percent % underscore _",
        "unicode ünïcødé ✓",
        "'); DELETE FROM authors; --",
    ];
    // PostgreSQL text cannot hold NUL; the others keep it.
    if db.backend() != Backend::Postgres {
        hostile.push("nul\0byte");
    }
    for name in &hostile {
        let mut a = author(name, None, None);
        exec::insert(conn, &mut a).unwrap();
        assert_eq!(exec::get::<Author>(conn, &a.id).unwrap().unwrap().name, *name);
        assert_eq!(names(conn, Author::NAME.eq(*name)), [name.to_string()]);
        assert_eq!(names(conn, Author::NAME.eq(&a.name)), [name.to_string()]);
        let raw = text("SELECT name FROM authors WHERE name = :n").bind_str("n", name);
        assert_eq!(exec::fetch::<String>(conn, &raw).unwrap(), [name.to_string()]);
    }
    let count = exec::fetch::<i64>(conn, &select(count_star()).from(Author::TABLE)).unwrap();
    assert_eq!(count, [hostile.len() as i64]);
}

fn every_type_round_trips(db: &TestDb, conn: &mut Connection) {
    let day = chrono::NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
    let clock = chrono::NaiveTime::from_hms_opt(23, 59, 58).unwrap();
    let mut row = EveryType {
        id: uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
        small: -32768,
        int: 2_147_483_647,
        flag: true,
        single: 1.5,
        double: -2.25e10,
        price: "123456789.125".parse().unwrap(),
        text: "ünïcødé 'quoted'".into(),
        bytes: vec![0, 1, 2, 255, b'\\', b'\''],
        day,
        clock,
        local: day.and_time(clock),
        instant: day.and_time(clock).and_utc(),
        doc: serde_json::json!({"a": [1, 2, {"b": null}], "c": "d"}),
        missing: None,
    };
    exec::insert(conn, &mut row).unwrap();
    assert_eq!(exec::get::<EveryType>(conn, &row.id).unwrap(), Some(row.clone()));
    let found = exec::fetch::<uuid::Uuid>(
        conn,
        &select(EveryType::ID).from(EveryType::TABLE).filter(
            EveryType::PRICE
                .gt("100.5".parse::<rust_decimal::Decimal>().unwrap())
                .and(EveryType::INSTANT.eq(row.instant))
                .and(EveryType::DAY.eq(day))
                .and(EveryType::MISSING.is_null()),
        ),
    )
    .unwrap();
    assert_eq!(found, [row.id]);
    // Read as text: the UUID and the JSON (binary `uuid` and `jsonb` on
    // PostgreSQL), and texts of a UUID's size or with JSONB's first byte.
    let sql = format!("SELECT id, doc FROM {}", EveryType::TABLE.name);
    let texts: Vec<(String, String)> = exec::fetch(conn, &text(&sql)).unwrap();
    assert_eq!(texts[0].0.parse::<uuid::Uuid>().unwrap(), row.id);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&texts[0].1).unwrap(), row.doc);
    // (MySQL/MariaDB report an untyped parameter in a select list as a
    // NULL-typed column, which diesel's client cannot read: it is cast.)
    let echo = if db.backend() == Backend::Mysql { "SELECT CAST(:a AS CHAR)" } else { "SELECT :a" };
    for lookalike in ["0123456789abcdef", "\u{1}{\"a\": 1}"] {
        let read = exec::fetch::<String>(conn, &text(echo).bind_str("a", lookalike)).unwrap();
        assert_eq!(read, [lookalike]);
    }
    row.missing = Some(day);
    row.flag = false;
    assert_eq!(exec::update(conn, &row).unwrap(), 1);
    assert_eq!(exec::get::<EveryType>(conn, &row.id).unwrap(), Some(row));
}

per_backend!(
    insert_models,
    every_type_round_trips,
    by_key,
    selects,
    joins,
    subqueries_ctes_windows,
    set_operations,
    writes,
    raw_text,
    injection_round_trips
);
