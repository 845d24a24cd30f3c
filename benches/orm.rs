//! ORM benchmark (issue 11): the same workloads, on the same data, measured
//! in the same run, through
//!
//! - raw diesel, with the typed `table!` schema declared below,
//! - our Core (statements built per call, run on a pooled connection, rows
//!   decoded into models, nothing tracked),
//! - our Session (identity map, change tracking, flush, transactions),
//! - SQLAlchemy 2.x ORM (`bench/orm_compare.py`, one Python process per
//!   database driven over stdin and timing inside Python, so interpreter
//!   start-up is not counted), when `MIGRATE_BENCH_PYTHON` names a Python
//!   with SQLAlchemy (bench/run.sh sets it up),
//!
//! on SQLite, PostgreSQL and MariaDB/MySQL (each when reachable). Rounds are
//! interleaved (every workload and variant once per round, the variants'
//! order rotating), the best round is kept. Prints, per workload and backend,
//! the time per iteration, the ratios to diesel and SQLAlchemy, the
//! statements each variant sends per iteration, and how much of diesel's
//! wall time is client CPU (this thread, driver included): a low share means
//! the workload waits on the database, not on the client.
//!
//! Run: `bench/run.sh orm [WORKLOAD|BACKEND ...]` (or `cargo bench --bench orm`).
//! `MIGRATE_BENCH_ROUNDS` sets the number of rounds (default 3).
//!
//! Issue 12's nested loading: `nested_100x10x10` (users -> posts ->
//! comments, diesel's `belonging_to` + `grouped_by`) and `tags_100x10`
//! (users -> posts -> tags through `post_tags`).
//!
//! Adding a workload (an async variant): a
//! [`Workload`] entry in [`workloads`] with one function per variant (a
//! variant it lacks is `None`), and for the SQLAlchemy column a
//! `workload_NAME` function in `bench/orm_compare.py`; new tables go into
//! [`create_schema`] and [`seed`], and into `orm_compare.py`'s models.

#[path = "support/async_orm.rs"]
mod async_orm;
#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/sqlalchemy.rs"]
mod sqlalchemy;

use common::TestDb;
use diesel::connection::{Connection as _, InstrumentationEvent};
use diesel::mysql::MysqlConnection;
use diesel::pg::PgConnection;
use diesel::sqlite::SqliteConnection;
use diesel::{
    Associations, BelongingToDsl as _, ExpressionMethods as _, GroupedBy as _, Identifiable, Insertable,
    OptionalExtension as _, QueryDsl as _, QueryResult, Queryable, RunQueryDsl as _, Selectable, SelectableHelper as _,
};
use migrate::db::{Backend, Connection, DatabaseUrl};
use migrate::dialect::{self, TransactionOptions};
use migrate::models::Model as _;
use migrate::orm::prelude::*;
use migrate::orm::{Pool, PoolOptions, exec};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Rows in `users` and in `posts`.
const ROWS: i64 = 10_000;
/// Users that have posts (10 posts each).
const POSTING_USERS: i64 = 1_000;
/// Users whose posts have comments (10 per post): issue 12's nested loading.
const COMMENTED_USERS: i64 = 100;
/// Rows per multi-row `INSERT` where a variant batches (diesel, Core).
const CHUNK: usize = 1_000;

// ---------------------------------------------------------------- models

/// Our model of `users`.
#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "users")]
pub struct User {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(max_length = 100)]
    pub name: String,
    #[model(max_length = 255)]
    pub email: String,
    pub age: i32,
    pub score: f64,
    pub active: bool,
}

/// Our model of `posts`.
#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "posts")]
pub struct Post {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(references = "users.id", references_model = "User")]
    pub user_id: i64,
    #[model(max_length = 200)]
    pub title: String,
    pub views: i32,
}

/// Our model of `comments`.
#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "comments")]
pub struct Comment {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(references = "posts.id", references_model = "Post")]
    pub post_id: i64,
    #[model(max_length = 200)]
    pub body: String,
}

/// `users` with its relationships, for the nested-loading workloads (the
/// other workloads read `User`, the same table without them).
#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "users")]
pub struct TreeUser {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(max_length = 100)]
    pub name: String,
    #[model(max_length = 255)]
    pub email: String,
    pub age: i32,
    pub score: f64,
    pub active: bool,
    #[model(has_many(TreePost, foreign_key = "user_id"))]
    pub posts: Many<TreePost>,
}

/// `posts` with its comments and tags.
#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "posts")]
pub struct TreePost {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(references = "users.id", references_model = "TreeUser")]
    pub user_id: i64,
    #[model(max_length = 200)]
    pub title: String,
    pub views: i32,
    #[model(has_many(TreeComment, foreign_key = "post_id"))]
    pub comments: Many<TreeComment>,
    #[model(many_to_many(Tag, through = "PostTag"))]
    pub tags: Many<Tag>,
}

/// `comments`, a leaf of the tree.
#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "comments")]
pub struct TreeComment {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(references = "posts.id", references_model = "TreePost")]
    pub post_id: i64,
    #[model(max_length = 200)]
    pub body: String,
}

/// Our model of `tags`.
#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "tags")]
pub struct Tag {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(max_length = 50)]
    pub name: String,
}

/// Our model of `post_tags`, the association of posts and tags.
#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "post_tags")]
pub struct PostTag {
    #[model(primary_key, references = "posts.id", references_model = "TreePost")]
    pub post_id: i64,
    #[model(primary_key, references = "tags.id", references_model = "Tag")]
    pub tag_id: i64,
}

/// Our model of `fresh_users`, the table the insert workload fills.
#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "fresh_users")]
pub struct FreshUser {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(max_length = 100)]
    pub name: String,
    #[model(max_length = 255)]
    pub email: String,
    pub age: i32,
    pub score: f64,
    pub active: bool,
}

impl FreshUser {
    /// The `k`th new row of the insert workload (the same values in every variant).
    fn numbered(k: usize) -> FreshUser {
        FreshUser {
            id: 0,
            name: format!("new {k}"),
            email: format!("new{k}@example.com"),
            age: (k % 80) as i32,
            score: k as f64 * 0.5,
            active: k.is_multiple_of(2),
        }
    }
}

/// The typed diesel schema of the same tables.
mod schema {
    diesel::table! {
        users (id) {
            id -> BigInt,
            name -> Varchar,
            email -> Varchar,
            age -> Integer,
            score -> Double,
            active -> Bool,
        }
    }
    diesel::table! {
        posts (id) {
            id -> BigInt,
            user_id -> BigInt,
            title -> Varchar,
            views -> Integer,
        }
    }
    diesel::table! {
        comments (id) {
            id -> BigInt,
            post_id -> BigInt,
            body -> Varchar,
        }
    }
    diesel::table! {
        fresh_users (id) {
            id -> BigInt,
            name -> Varchar,
            email -> Varchar,
            age -> Integer,
            score -> Double,
            active -> Bool,
        }
    }
    diesel::table! {
        tags (id) {
            id -> BigInt,
            name -> Varchar,
        }
    }
    diesel::table! {
        post_tags (post_id, tag_id) {
            post_id -> BigInt,
            tag_id -> BigInt,
        }
    }
    diesel::joinable!(posts -> users (user_id));
    diesel::joinable!(comments -> posts (post_id));
    diesel::joinable!(post_tags -> posts (post_id));
    diesel::joinable!(post_tags -> tags (tag_id));
    diesel::allow_tables_to_appear_in_same_query!(users, posts, comments, tags, post_tags);
}

/// diesel's row of `users`.
#[derive(Debug, Queryable, Selectable, Identifiable)]
#[diesel(table_name = schema::users)]
struct DieselUser {
    id: i64,
    #[allow(dead_code)] // decoded as the other variants decode it
    name: String,
    #[allow(dead_code)]
    email: String,
    #[allow(dead_code)]
    age: i32,
    score: f64,
    #[allow(dead_code)]
    active: bool,
}

/// diesel's row of `posts`.
#[derive(Debug, Queryable, Selectable, Identifiable, Associations)]
#[diesel(table_name = schema::posts, belongs_to(DieselUser, foreign_key = user_id))]
#[allow(dead_code)] // decoded as the other variants decode it
struct DieselPost {
    id: i64,
    user_id: i64,
    title: String,
    views: i32,
}

/// diesel's row of `comments`.
#[derive(Debug, Queryable, Selectable, Identifiable, Associations)]
#[diesel(table_name = schema::comments, belongs_to(DieselPost, foreign_key = post_id))]
#[allow(dead_code)] // decoded as the other variants decode it
struct DieselComment {
    id: i64,
    post_id: i64,
    body: String,
}

/// diesel's row of `tags`.
#[derive(Debug, Queryable, Selectable, Identifiable)]
#[diesel(table_name = schema::tags)]
#[allow(dead_code)] // decoded as the other variants decode it
struct DieselTag {
    id: i64,
    name: String,
}

/// diesel's row of `post_tags`.
#[derive(Debug, Queryable, Selectable, Identifiable, Associations)]
#[diesel(table_name = schema::post_tags, primary_key(post_id, tag_id), belongs_to(DieselPost, foreign_key = post_id))]
struct DieselPostTag {
    post_id: i64,
    tag_id: i64,
}

/// diesel's new row of `fresh_users`.
#[derive(Insertable)]
#[diesel(table_name = schema::fresh_users)]
struct DieselNewUser {
    name: String,
    email: String,
    age: i32,
    score: f64,
    active: bool,
}

impl From<FreshUser> for DieselNewUser {
    fn from(u: FreshUser) -> Self {
        DieselNewUser { name: u.name, email: u.email, age: u.age, score: u.score, active: u.active }
    }
}

// ------------------------------------------------------ the raw diesel side

/// A raw diesel connection of the backend under test, counting its statements.
enum Raw {
    Postgres(PgConnection),
    Mysql(MysqlConnection),
    Sqlite(SqliteConnection),
}

/// Runs `$body` with `$c` bound to the concrete diesel connection.
macro_rules! on_raw {
    ($raw:expr, $c:ident => $body:expr) => {
        match $raw {
            Raw::Postgres($c) => $body,
            Raw::Mysql($c) => $body,
            Raw::Sqlite($c) => $body,
        }
    };
}

impl Raw {
    fn open(db: &TestDb, counter: &Arc<AtomicUsize>) -> Raw {
        let url = DatabaseUrl::parse(&db.url).expect("the test database URL parses");
        let mut raw = match db.backend() {
            Backend::Postgres => Raw::Postgres(PgConnection::establish(&db.url).expect("diesel connects")),
            Backend::Mysql => Raw::Mysql(MysqlConnection::establish(&db.url).expect("diesel connects")),
            Backend::Sqlite => {
                let path = url.sqlite_path().expect("an SQLite URL has a path");
                Raw::Sqlite(SqliteConnection::establish(path).expect("diesel connects"))
            }
        };
        let counter = Arc::clone(counter);
        let count = move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::StartQuery { .. } = event {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        };
        on_raw!(&mut raw, c => c.set_instrumentation(count));
        raw
    }

    fn execute(&mut self, sql: &str) {
        on_raw!(self, c => diesel::sql_query(sql).execute(c)).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

fn diesel_load(raw: &mut Raw, n: i64) -> QueryResult<usize> {
    use schema::users::dsl::*;
    on_raw!(raw, c => users.select(DieselUser::as_select()).order(id).limit(n).load::<DieselUser>(c))
        .map(|rows| rows.len())
}

fn diesel_join(raw: &mut Raw) -> QueryResult<usize> {
    use schema::{posts, users};
    on_raw!(raw, c => posts::table
        .inner_join(users::table)
        .filter(users::age.lt(30))
        .order(posts::id)
        .select(DieselPost::as_select())
        .load::<DieselPost>(c))
    .map(|rows| rows.len())
}

fn diesel_get(raw: &mut Raw) -> QueryResult<usize> {
    use schema::users::dsl::*;
    let mut found = 0;
    for key in 1..=ROWS {
        let row =
            on_raw!(&mut *raw, c => users.find(key).select(DieselUser::as_select()).first::<DieselUser>(c).optional())?;
        found += usize::from(row.is_some());
    }
    Ok(found)
}

/// Issue 12's nested loading, as diesel's guide does it: `belonging_to`
/// and `grouped_by`, one statement per level.
fn diesel_nested(raw: &mut Raw) -> QueryResult<usize> {
    use schema::users;
    on_raw!(raw, c => {
        let users = users::table
            .order(users::id)
            .limit(COMMENTED_USERS)
            .select(DieselUser::as_select())
            .load::<DieselUser>(c)?;
        let posts = DieselPost::belonging_to(&users).select(DieselPost::as_select()).load::<DieselPost>(c)?;
        let comments =
            DieselComment::belonging_to(&posts).select(DieselComment::as_select()).load::<DieselComment>(c)?;
        let comments = comments.grouped_by(&posts);
        let posts = posts.into_iter().zip(comments).grouped_by(&users);
        let tree: Vec<Tree<DieselUser, DieselPost, DieselComment>> = users.into_iter().zip(posts).collect();
        Ok(nested_count(&tree))
    })
}

/// 100 users -> their posts -> the posts' tags through `post_tags`, as
/// diesel's guide does many-to-many: the association rows `belonging_to`
/// the posts, joined to the tags, `grouped_by` post.
fn diesel_tags(raw: &mut Raw) -> QueryResult<usize> {
    use schema::{tags, users};
    on_raw!(raw, c => {
        let users = users::table
            .order(users::id)
            .limit(COMMENTED_USERS)
            .select(DieselUser::as_select())
            .load::<DieselUser>(c)?;
        let posts = DieselPost::belonging_to(&users).select(DieselPost::as_select()).load::<DieselPost>(c)?;
        let links = DieselPostTag::belonging_to(&posts)
            .inner_join(tags::table)
            .select((DieselPostTag::as_select(), DieselTag::as_select()))
            .load::<(DieselPostTag, DieselTag)>(c)?;
        let tags: Vec<Vec<DieselTag>> =
            links.grouped_by(&posts).into_iter().map(|l| l.into_iter().map(|(_, t)| t).collect()).collect();
        let posts = posts.into_iter().zip(tags).grouped_by(&users);
        let tree: Vec<Tree<DieselUser, DieselPost, DieselTag>> = users.into_iter().zip(posts).collect();
        Ok(nested_count(&tree))
    })
}

/// A user with its posts, each with its comments.
type Tree<U, P, C> = (U, Vec<(P, Vec<C>)>);

/// Users, posts and comments in a loaded tree.
fn nested_count<U, P, C>(tree: &[Tree<U, P, C>]) -> usize {
    tree.iter().map(|(_, posts)| 1 + posts.iter().map(|(_, comments)| 1 + comments.len()).sum::<usize>()).sum()
}

fn diesel_insert(raw: &mut Raw) -> QueryResult<usize> {
    use schema::fresh_users::dsl::*;
    let rows: Vec<DieselNewUser> = (0..ROWS as usize).map(|k| FreshUser::numbered(k).into()).collect();
    on_raw!(raw, c => c.transaction(|c| {
        for chunk in rows.chunks(CHUNK) {
            diesel::insert_into(fresh_users).values(chunk).execute(c)?;
        }
        Ok(rows.len())
    }))
}

fn diesel_update(raw: &mut Raw) -> QueryResult<usize> {
    use schema::users::dsl::*;
    on_raw!(raw, c => c.transaction(|c| {
        let rows = users.select(DieselUser::as_select()).order(id).limit(1000).load::<DieselUser>(c)?;
        for row in &rows {
            diesel::update(users.find(row.id)).set(score.eq(row.score + 1.0)).execute(c)?;
        }
        Ok(rows.len())
    }))
}

// ------------------------------------------------------------ our Core

fn core_load(conn: &mut Connection, n: u64) -> Result<usize, OrmError> {
    let query = select(User::ALL).from(User::TABLE).order_by(User::ID.asc()).limit(n);
    let rows: Vec<User> = exec::fetch(conn, &query)?;
    Ok(rows.len())
}

fn core_join(conn: &mut Connection) -> Result<usize, OrmError> {
    let query = select(Post::ALL)
        .from(Post::TABLE)
        .join(User::TABLE, User::ID.eq(Post::USER_ID))
        .filter(User::AGE.lt(30))
        .order_by(Post::ID.asc());
    let rows: Vec<Post> = exec::fetch(conn, &query)?;
    Ok(rows.len())
}

/// Nested loading by hand on Core: one `IN` query per level, grouped in Rust.
fn core_nested(conn: &mut Connection) -> Result<usize, OrmError> {
    let users: Vec<User> =
        exec::fetch(conn, &select(User::ALL).from(User::TABLE).order_by(User::ID.asc()).limit(COMMENTED_USERS as u64))?;
    let user_ids = users.iter().map(|u| u.id);
    let posts: Vec<Post> =
        exec::fetch(conn, &select(Post::ALL).from(Post::TABLE).filter(Post::USER_ID.in_list(user_ids)))?;
    let post_ids = posts.iter().map(|p| p.id);
    let comments: Vec<Comment> =
        exec::fetch(conn, &select(Comment::ALL).from(Comment::TABLE).filter(Comment::POST_ID.in_list(post_ids)))?;
    let mut by_post: HashMap<i64, Vec<Comment>> = HashMap::new();
    for comment in comments {
        by_post.entry(comment.post_id).or_default().push(comment);
    }
    let mut by_user: HashMap<i64, Vec<(Post, Vec<Comment>)>> = HashMap::new();
    for post in posts {
        let comments = by_post.remove(&post.id).unwrap_or_default();
        by_user.entry(post.user_id).or_default().push((post, comments));
    }
    let tree: Vec<Tree<User, Post, Comment>> = users
        .into_iter()
        .map(|u| {
            let posts = by_user.remove(&u.id).unwrap_or_default();
            (u, posts)
        })
        .collect();
    Ok(nested_count(&tree))
}

fn core_get(conn: &mut Connection) -> Result<usize, OrmError> {
    let mut found = 0;
    for key in 1..=ROWS {
        found += usize::from(exec::get::<User>(conn, &key)?.is_some());
    }
    Ok(found)
}

fn core_insert(conn: &mut Connection) -> Result<usize, OrmError> {
    let rows: Vec<FreshUser> = (0..ROWS as usize).map(FreshUser::numbered).collect();
    let dialect = dialect::of(conn.backend());
    let mut tx = migrate::orm::Transaction::begin(conn, dialect, &TransactionOptions::default())?;
    for chunk in rows.chunks(CHUNK) {
        exec::execute(&mut tx, &insert_into(FreshUser::TABLE).models(chunk))?;
    }
    tx.commit()?;
    Ok(rows.len())
}

fn core_update(conn: &mut Connection) -> Result<usize, OrmError> {
    let dialect = dialect::of(conn.backend());
    let mut tx = migrate::orm::Transaction::begin(conn, dialect, &TransactionOptions::default())?;
    let rows: Vec<User> =
        exec::fetch(&mut tx, &select(User::ALL).from(User::TABLE).order_by(User::ID.asc()).limit(1000))?;
    for row in &rows {
        exec::execute(&mut tx, &update(User::TABLE).set(User::SCORE, row.score + 1.0).filter(User::ID.eq(row.id)))?;
    }
    tx.commit()?;
    Ok(rows.len())
}

// ------------------------------------------------------------ our Session

fn session_load(pool: &Pool, n: u64) -> Result<usize, OrmError> {
    let mut s = pool.session();
    let users = s.query::<User>(|q| q.order_by(User::ID.asc()).limit(n))?;
    Ok(users.len())
}

fn session_join(pool: &Pool) -> Result<usize, OrmError> {
    let mut s = pool.session();
    let posts = s.query::<Post>(|q| {
        q.join(User::TABLE, User::ID.eq(Post::USER_ID)).filter(User::AGE.lt(30)).order_by(Post::ID.asc())
    })?;
    Ok(posts.len())
}

fn session_get(pool: &Pool) -> Result<usize, OrmError> {
    let mut s = pool.session();
    let mut found = 0;
    for key in 1..=ROWS {
        found += usize::from(s.get::<User>(&key)?.is_some());
    }
    Ok(found)
}

fn session_insert(pool: &Pool) -> Result<usize, OrmError> {
    let mut s = pool.session();
    let handles = s.add_all((0..ROWS as usize).map(FreshUser::numbered));
    s.commit()?;
    Ok(handles.len())
}

fn session_update(pool: &Pool) -> Result<usize, OrmError> {
    let mut s = pool.session();
    let users = s.query::<User>(|q| q.order_by(User::ID.asc()).limit(1000))?;
    for &user in &users {
        s[user].score += 1.0;
    }
    s.commit()?;
    Ok(users.len())
}

/// Issue 12's nested loading through the session: one statement per level.
fn session_nested(pool: &Pool) -> Result<usize, OrmError> {
    let mut s = pool.session();
    let option = selectin(TreeUser::POSTS).then(selectin(TreePost::COMMENTS));
    let users =
        s.query::<TreeUser>(|q| q.order_by(TreeUser::ID.asc()).limit(COMMENTED_USERS as u64).options(option))?;
    session_tree(&s, &users, |p| p.comments.get().map(<[TreeComment]>::len))
}

/// 100 users -> posts -> tags through the association table, through the session.
fn session_tags(pool: &Pool) -> Result<usize, OrmError> {
    let mut s = pool.session();
    let option = selectin(TreeUser::POSTS).then(selectin(TreePost::TAGS));
    let users =
        s.query::<TreeUser>(|q| q.order_by(TreeUser::ID.asc()).limit(COMMENTED_USERS as u64).options(option))?;
    session_tree(&s, &users, |p| p.tags.get().map(<[Tag]>::len))
}

/// Users, posts and each post's `leaves` in a session's loaded tree.
fn session_tree(
    s: &migrate::orm::Session,
    users: &[migrate::orm::Handle<TreeUser>],
    leaves: impl Fn(&TreePost) -> Result<usize, migrate::orm::relation::RelationError>,
) -> Result<usize, OrmError> {
    let mut count = 0;
    for &user in users {
        count += 1;
        for post in s[user].posts.get()? {
            count += 1 + leaves(post)?;
        }
    }
    Ok(count)
}

// ------------------------------------------------------------ workloads

/// What one variant's run of one workload may fail with.
type Failure = Box<dyn std::error::Error>;

/// One workload: its name (also `orm_compare.py`'s `workload_NAME`), how
/// many times one measurement runs it, and each variant's code. Each
/// function returns the rows or objects it produced.
struct Workload {
    name: &'static str,
    iterations: usize,
    /// Run (untimed) before each variant's measurement.
    reset: Option<fn(&mut Raw)>,
    diesel: Option<DieselRun>,
    core: Option<CoreRun>,
    session: Option<SessionRun>,
}

/// A workload through raw diesel.
type DieselRun = fn(&mut Raw) -> QueryResult<usize>;
/// A workload through our Core, on one connection.
type CoreRun = fn(&mut Connection) -> Result<usize, OrmError>;
/// A workload through sessions of a pool.
type SessionRun = fn(&Pool) -> Result<usize, OrmError>;

fn workloads() -> Vec<Workload> {
    let empty_fresh_users: fn(&mut Raw) = |raw| raw.execute("DELETE FROM fresh_users");
    vec![
        Workload {
            name: "load_1",
            iterations: 1000,
            reset: None,
            diesel: Some(|raw| diesel_load(raw, 1)),
            core: Some(|conn| core_load(conn, 1)),
            session: Some(|pool| session_load(pool, 1)),
        },
        Workload {
            name: "load_100",
            iterations: 200,
            reset: None,
            diesel: Some(|raw| diesel_load(raw, 100)),
            core: Some(|conn| core_load(conn, 100)),
            session: Some(|pool| session_load(pool, 100)),
        },
        Workload {
            name: "load_10000",
            iterations: 5,
            reset: None,
            diesel: Some(|raw| diesel_load(raw, 10_000)),
            core: Some(|conn| core_load(conn, 10_000)),
            session: Some(|pool| session_load(pool, 10_000)),
        },
        Workload {
            name: "join",
            iterations: 10,
            reset: None,
            diesel: Some(diesel_join),
            core: Some(core_join),
            session: Some(session_join),
        },
        Workload {
            name: "nested_100x10x10",
            iterations: 10,
            reset: None,
            diesel: Some(diesel_nested),
            core: Some(core_nested),
            session: Some(session_nested),
        },
        Workload {
            name: "tags_100x10",
            iterations: 10,
            reset: None,
            diesel: Some(diesel_tags),
            core: None,
            session: Some(session_tags),
        },
        Workload {
            name: "get_10000",
            iterations: 1,
            reset: None,
            diesel: Some(diesel_get),
            core: Some(core_get),
            session: Some(session_get),
        },
        Workload {
            name: "insert_10000",
            iterations: 1,
            reset: Some(empty_fresh_users),
            diesel: Some(diesel_insert),
            core: Some(core_insert),
            session: Some(session_insert),
        },
        Workload {
            name: "update_1000",
            iterations: 1,
            reset: None,
            diesel: Some(diesel_update),
            core: Some(core_update),
            session: Some(session_update),
        },
    ]
}

/// The columns of the table, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Diesel,
    Core,
    Session,
    SqlAlchemy,
}

const VARIANTS: [Variant; 4] = [Variant::Diesel, Variant::Core, Variant::Session, Variant::SqlAlchemy];

// ------------------------------------------------------------ measuring

/// One measurement of a workload by a variant, all iterations together.
#[derive(Debug, Clone, Copy)]
struct Sample {
    wall: Duration,
    /// This thread's CPU time (the client's, driver included; on SQLite the
    /// database engine's too).
    cpu: Option<Duration>,
    statements: usize,
    rows: usize,
}

/// This thread's CPU time so far (`CLOCK_THREAD_CPUTIME_ID`, what Python's
/// `time.thread_time()` reads). Exact to the nanosecond: `schedstat`, read
/// before, is brought up to date only at the scheduler's ticks and
/// switches, up to 4 ms late, which made the CPU times of sub-millisecond
/// workloads noise.
fn thread_cpu() -> Option<Duration> {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Some(Duration::new(u64::try_from(now.tv_sec).ok()?, u32::try_from(now.tv_nsec).ok()?))
}

fn measure(
    iterations: usize,
    statements: impl Fn() -> usize,
    mut run: impl FnMut() -> Result<usize, Failure>,
) -> Result<Sample, Failure> {
    let before = statements();
    let (cpu, started) = (thread_cpu(), Instant::now());
    let mut rows = 0;
    for _ in 0..iterations {
        rows += std::hint::black_box(run()?);
    }
    let wall = started.elapsed();
    let cpu = thread_cpu().zip(cpu).map(|(after, before)| after.saturating_sub(before));
    Ok(Sample { wall, cpu, statements: statements().saturating_sub(before), rows })
}

/// SQLAlchemy in a Python process of its own, run workload by workload.
struct Python {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Python {
    fn start(python: &str, db: &TestDb) -> Option<Python> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/orm_compare.py");
        let mut child = Command::new(python)
            .args([script, &sqlalchemy::url(db)])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| eprintln!("cannot start {python}: {e}"))
            .ok()?;
        let stdin = child.stdin.take()?;
        let stdout = BufReader::new(child.stdout.take()?);
        Some(Python { child, stdin, stdout })
    }

    fn run(&mut self, workload: &str, iterations: usize) -> Result<Sample, Failure> {
        writeln!(self.stdin, "{workload} {iterations}")?;
        self.stdin.flush()?;
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            return Err("the SQLAlchemy process ended (its error is above)".into());
        }
        let json: serde_json::Value = serde_json::from_str(&line)?;
        if let Some(error) = json["error"].as_str() {
            return Err(error.into());
        }
        let number = |key: &str| json[key].as_f64().ok_or_else(|| format!("no {key} in {line}"));
        Ok(Sample {
            wall: Duration::from_secs_f64(number("wall")?),
            cpu: Some(Duration::from_secs_f64(number("cpu")?)),
            statements: number("statements")? as usize,
            rows: number("rows")? as usize,
        })
    }
}

impl Drop for Python {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        let _ = self.child.wait();
    }
}

/// Everything one backend's run holds.
struct Bench {
    raw: Raw,
    raw_statements: Arc<AtomicUsize>,
    core: migrate::orm::PooledConnection,
    /// One connection, so that its statement counter is the session's.
    sessions: Pool,
    python: Option<Python>,
}

impl Bench {
    fn run(&mut self, workload: &Workload, variant: Variant) -> Option<Result<Sample, Failure>> {
        if let Some(reset) = workload.reset {
            reset(&mut self.raw);
        }
        let n = workload.iterations;
        Some(match variant {
            Variant::Diesel => {
                let run = workload.diesel?;
                let counter = Arc::clone(&self.raw_statements);
                let raw = &mut self.raw;
                measure(n, || counter.load(Ordering::Relaxed), || Ok(run(raw)?))
            }
            Variant::Core => {
                let run = workload.core?;
                // The counter is read between runs, never during one.
                let conn = std::cell::RefCell::new(&mut *self.core);
                measure(n, || conn.borrow().statement_count(), || Ok(run(&mut conn.borrow_mut())?))
            }
            Variant::Session => {
                let run = workload.session?;
                let pool = &self.sessions;
                let statements = || pool.get().map_or(0, |c| c.statement_count());
                measure(n, statements, || Ok(run(pool)?))
            }
            Variant::SqlAlchemy => self.python.as_mut()?.run(workload.name, n),
        })
    }
}

fn create_schema(conn: &mut Connection) {
    let dialect = dialect::of(conn.backend());
    let tags = [Tag::table(), PostTag::table()];
    for table in [User::table(), Post::table(), Comment::table(), FreshUser::table()].into_iter().chain(tags) {
        for sql in dialect.create_table(&table) {
            conn.execute(&sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    }
}

/// 10,000 users; 10,000 posts, 10 for each of the first 1,000 users; 10,000
/// comments, 10 for each post of the first 100 users.
fn seed(conn: &mut Connection) -> Result<(), OrmError> {
    let users: Vec<User> = (1..=ROWS)
        .map(|i| User {
            id: 0,
            name: format!("user {i}"),
            email: format!("user{i}@example.com"),
            age: (i % 80) as i32,
            score: i as f64 * 1.5,
            active: i % 3 == 0,
        })
        .collect();
    let posts: Vec<Post> = (1..=ROWS)
        .map(|i| Post { id: 0, user_id: i % POSTING_USERS + 1, title: format!("post {i}"), views: (i % 1000) as i32 })
        .collect();
    let dialect = dialect::of(conn.backend());
    let mut tx = migrate::orm::Transaction::begin(conn, dialect, &TransactionOptions::default())?;
    for chunk in users.chunks(CHUNK) {
        exec::execute(&mut tx, &insert_into(User::TABLE).models(chunk))?;
    }
    for chunk in posts.chunks(CHUNK) {
        exec::execute(&mut tx, &insert_into(Post::TABLE).models(chunk))?;
    }
    // Post i has id i and belongs to user i % 1,000 + 1.
    let commented = (1..=ROWS).filter(|i| i % POSTING_USERS < COMMENTED_USERS);
    let comments: Vec<Comment> = commented
        .flat_map(|post| (0..10).map(move |k| Comment { id: 0, post_id: post, body: format!("comment {k} on {post}") }))
        .collect();
    for chunk in comments.chunks(CHUNK) {
        exec::execute(&mut tx, &insert_into(Comment::TABLE).models(chunk))?;
    }
    // 10 tags; each post of the first 100 users has 2 of them.
    let tags: Vec<Tag> = (1..=10).map(|t| Tag { id: 0, name: format!("tag {t}") }).collect();
    exec::execute(&mut tx, &insert_into(Tag::TABLE).models(&tags))?;
    let links: Vec<PostTag> = (1..=ROWS)
        .filter(|i| i % POSTING_USERS < COMMENTED_USERS)
        .flat_map(|post| [post % 10 + 1, (post + 3) % 10 + 1].map(|tag_id| PostTag { post_id: post, tag_id }))
        .collect();
    for chunk in links.chunks(CHUNK) {
        exec::execute(&mut tx, &insert_into(PostTag::TABLE).models(chunk))?;
    }
    tx.commit()
}

/// The best (fastest) wall and CPU time of each workload and variant.
type Best = Vec<[Option<Sample>; VARIANTS.len()]>;

fn run_backend(db: &TestDb, workloads: &[&Workload], rounds: usize, python: Option<&str>) -> Result<Best, Failure> {
    let options = || PoolOptions { max_size: 1, health_check: false, idle_timeout: None, ..PoolOptions::default() };
    let core_pool = Pool::open(&db.url, options())?;
    let mut core = core_pool.get()?;
    create_schema(&mut core);
    seed(&mut core)?;
    let raw_statements = Arc::new(AtomicUsize::new(0));
    let mut bench = Bench {
        raw: Raw::open(db, &raw_statements),
        raw_statements,
        core,
        // The default health check: a connection in steady use is not pinged.
        sessions: Pool::open(&db.url, PoolOptions { health_check: true, ..options() })?,
        python: python.and_then(|p| Python::start(p, db)),
    };
    let mut best: Best = vec![[None; VARIANTS.len()]; workloads.len()];
    for round in 0..rounds {
        for (w, workload) in workloads.iter().enumerate() {
            for k in 0..VARIANTS.len() {
                let v = (k + round) % VARIANTS.len();
                let Some(sample) = bench.run(workload, VARIANTS[v]) else { continue };
                let sample = sample.map_err(|e| format!("{} by {:?}: {e}", workload.name, VARIANTS[v]))?;
                // Wall and CPU time each the best of the rounds.
                let slot = &mut best[w][v];
                *slot = Some(match *slot {
                    None => sample,
                    Some(b) => Sample {
                        wall: b.wall.min(sample.wall),
                        cpu: b.cpu.zip(sample.cpu).map(|(a, b)| a.min(b)).or(sample.cpu),
                        ..sample
                    },
                });
            }
        }
    }
    Ok(best)
}

// ------------------------------------------------------------ printing

fn per_iteration(d: Duration, iterations: usize) -> String {
    let s = d.as_secs_f64() / iterations as f64;
    match s {
        s if s >= 1.0 => format!("{s:.2} s"),
        s if s >= 1e-3 => format!("{:.2} ms", s * 1e3),
        s => format!("{:.1} us", s * 1e6),
    }
}

fn ratio(a: Option<Duration>, b: Option<Duration>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if !b.is_zero() => format!("{:.2}x", a.as_secs_f64() / b.as_secs_f64()),
        _ => "-".into(),
    }
}

fn print_backend(name: &str, workloads: &[&Workload], best: &Best) {
    for (title, cpu_table) in [("wall time", false), ("client CPU time", true)] {
        println!(
            "\n{:<17}{:>5} {:>10} {:>10} {:>10} {:>10} {:>7} {:>7} {:>7} {:>7}{}",
            name,
            "iter",
            "diesel",
            "core",
            "session",
            "sqlalchemy",
            "core/d",
            "sess/d",
            "sa/core",
            "sa/sess",
            if cpu_table { format!("  {title}") } else { format!("  {title}; d cpu%, statements") }
        );
        for (workload, samples) in workloads.iter().zip(best) {
            let n = workload.iterations;
            let time = |v: usize| samples[v].and_then(|s| if cpu_table { s.cpu } else { Some(s.wall) });
            let shown = |v: usize| time(v).map_or("-".into(), |d| per_iteration(d, n));
            let mut line = format!(
                "{:<17}{:>5} {:>10} {:>10} {:>10} {:>10} {:>7} {:>7} {:>7} {:>7}",
                workload.name,
                n,
                shown(0),
                shown(1),
                shown(2),
                shown(3),
                ratio(time(1), time(0)),
                ratio(time(2), time(0)),
                ratio(time(3), time(1)),
                ratio(time(3), time(2)),
            );
            if !cpu_table {
                let client = match samples[0].and_then(|s| s.cpu.map(|c| (c, s.wall))) {
                    Some((c, w)) => format!("{:.0}%", 100.0 * c.as_secs_f64() / w.as_secs_f64()),
                    None => "-".into(),
                };
                let statements: Vec<String> = samples
                    .iter()
                    .map(|s| s.map_or("-".into(), |s| format!("{}", (s.statements as f64 / n as f64).round())))
                    .collect();
                let rows: Vec<usize> = samples.iter().flatten().map(|s| s.rows).collect();
                let agree = if rows.windows(2).all(|w| w[0] == w[1]) { "" } else { "  (rows differ!)" };
                line += &format!("  {client:>5}  {}{agree}", statements.join("/"));
            }
            println!("{line}");
        }
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(|_| "unknown".into(), |l| l.trim().to_string())
}

fn main() {
    // `cargo bench` passes `--bench`; the other arguments pick workloads and backends.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let rounds = std::env::var("MIGRATE_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    let python = std::env::var("MIGRATE_BENCH_PYTHON").ok();
    let all = workloads();
    let backends = [(Backend::Sqlite, "sqlite"), (Backend::Postgres, "postgresql"), (Backend::Mysql, "mysql")];
    let picked = |name: &str| args.is_empty() || args.iter().any(|a| a == name);
    let any_workload = args.iter().any(|a| all.iter().any(|w| w.name == a));
    let any_backend = args.iter().any(|a| backends.iter().any(|(_, b)| b == a));
    let chosen: Vec<&Workload> = all.iter().filter(|w| !any_workload || picked(w.name)).collect();
    println!("load average at start: {}", loadavg());
    if python.is_none() {
        println!("(MIGRATE_BENCH_PYTHON not set: no SQLAlchemy baseline; bench/run.sh sets it up)");
    }
    println!(
        "best of {rounds} interleaved rounds; times per iteration; d cpu%: diesel's client CPU as a share \
         of its wall time; statements per iteration (diesel/core/session/sqlalchemy)"
    );
    for (backend, name) in backends {
        if any_backend && !picked(name) {
            continue;
        }
        let Some(db) = common::fresh_db(backend, "bench_orm") else { continue };
        match run_backend(&db, &chosen, rounds, python.as_deref()) {
            Ok(best) => print_backend(name, &chosen, &best),
            Err(e) => println!("\n{name}: failed: {e}"),
        }
        // The async variants (on the data just seeded): with every workload,
        // or when `async` is named.
        if !any_workload || picked("async") {
            async_orm::run(&db, name, rounds);
        }
    }
    println!("\nload average at end: {}", loadavg());
}
