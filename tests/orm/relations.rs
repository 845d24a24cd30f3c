//! Relationships and loading strategies on every backend: a blog (users,
//! profiles, posts, comments, tags, post_tags) and the shop fixture
//! (composite keys, self-references). Each strategy is checked by its
//! result and by the number of statements it sent.

use crate::common::{TestDb, fresh_db};
use crate::shop;
use migrate::db::{Backend, Connection};
use migrate::dialect;
use migrate::models::Model as _;
use migrate::orm::prelude::*;
use migrate::orm::relation::{NPlusOne, RelationError};
use migrate::orm::{Error, Pool, PoolOptions};

per_backend!(
    selectin_collections,
    nested_loading_is_one_statement_per_level,
    selectin_past_4096_parents_in_one_statement,
    collections_without_order_by_come_in_key_order,
    joined_to_one,
    defaults_and_raiseload,
    unloaded_relationships_are_errors,
    joins_and_exists_through_relationships,
    session_queries_and_lazy_loads,
    n_plus_one_detector,
    relationship_changes,
    relationship_changes_wait_for_flush,
    copies_in_loaded_relationships_follow_the_flush,
    cascade_delete_agrees_with_on_delete_cascade,
    shop_composite_keys_and_self_references,
);

fn run(backend: Backend, name: &str, body: fn(&TestDb, &mut Connection)) {
    if let Some(db) = fresh_db(backend, name) {
        let mut conn = db.connect();
        body(&db, &mut conn);
    }
}

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "users")]
pub struct User {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(max_length = 100)]
    pub name: String,
    #[model(has_many(Post, foreign_key = "user_id", back_populates = "author", order_by = "id"))]
    pub posts: Many<Post>,
    #[model(has_one(Profile, back_populates = "user", load = "joined"))]
    pub profile: One<Profile>,
}

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "profiles")]
pub struct Profile {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(references = "users.id", unique)]
    pub user_id: i64,
    #[model(max_length = 200)]
    pub bio: String,
    #[model(belongs_to(User, back_populates = "profile"))]
    pub user: One<User>,
}

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "posts")]
pub struct Post {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(references = "users.id", references_model = "User")]
    pub user_id: i64,
    #[model(max_length = 200)]
    pub title: String,
    #[model(belongs_to(User, foreign_key = "user_id", back_populates = "posts"))]
    pub author: One<User>,
    #[model(has_many(Comment, order_by = "id desc"))]
    pub comments: Many<Comment>,
    /// A has_one whose foreign key is not unique: the newest comment.
    #[model(has_one(Comment, order_by = "id desc"))]
    pub last_comment: One<Comment>,
    #[model(many_to_many(Tag, through = "PostTag", back_populates = "posts", order_by = "name"))]
    pub tags: Many<Tag>,
}

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "comments")]
pub struct Comment {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(references = "posts.id", on_delete = "cascade")]
    pub post_id: i64,
    pub body: String,
    #[model(belongs_to(Post))]
    pub post: One<Post>,
}

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "tags")]
pub struct Tag {
    #[model(primary_key, autoincrement)]
    pub id: i32,
    #[model(max_length = 50, unique)]
    pub name: String,
    #[model(many_to_many(Post, through = "PostTag", back_populates = "tags"))]
    pub posts: Many<Post>,
}

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "post_tags")]
pub struct PostTag {
    #[model(primary_key, references = "posts.id", on_delete = "cascade")]
    pub post_id: i64,
    #[model(primary_key, references = "tags.id", on_delete = "cascade")]
    pub tag_id: i32,
}

fn create(conn: &mut Connection, tables: &[migrate::schema::Table]) {
    let dialect = dialect::of(conn.backend());
    for table in tables {
        for sql in dialect.create_table(table) {
            conn.execute(&sql).unwrap();
        }
    }
}

fn blog(conn: &mut Connection) {
    create(conn, &[User::table(), Profile::table(), Post::table(), Comment::table(), Tag::table(), PostTag::table()]);
}

/// `users` users with `posts` posts each; post `p` of user `u` has the tags
/// whose number divides `p + 1` (of tags 1..=3), and `p % 3` comments.
fn seed(conn: &mut Connection, users: usize, posts: usize) {
    blog(conn);
    let rows = (1..=users).fold(insert_into(User::TABLE), |q, u| q.row(Row::new().set(User::NAME, format!("u{u:03}"))));
    exec::execute(conn, &rows).unwrap();
    let profiles = insert_into(Profile::TABLE)
        .row(Row::new().set(Profile::USER_ID, 1i64).set(Profile::BIO, "first"))
        .row(Row::new().set(Profile::USER_ID, 2i64).set(Profile::BIO, "second"));
    exec::execute(conn, &profiles).unwrap();
    exec::execute(
        conn,
        &(1..=3).fold(insert_into(Tag::TABLE), |q, t| q.row(Row::new().set(Tag::NAME, format!("t{t}")))),
    )
    .unwrap();
    let all_posts: Vec<(i64, usize)> = (1..=users as i64).flat_map(|u| (0..posts).map(move |p| (u, p))).collect();
    for chunk in all_posts.chunks(1000) {
        let q = chunk.iter().fold(insert_into(Post::TABLE), |q, &(u, p)| {
            q.row(Row::new().set(Post::USER_ID, u).set(Post::TITLE, format!("u{u} p{p}")))
        });
        exec::execute(conn, &q).unwrap();
    }
    let (mut tags, mut comments) = (insert_into(PostTag::TABLE), insert_into(Comment::TABLE));
    let (mut any_tag, mut any_comment) = (false, false);
    for post in 1..=(users * posts) as i64 {
        let p = (post - 1) % posts as i64;
        for tag in 1..=3i32 {
            if (p + 1) % i64::from(tag) == 0 {
                tags = tags.row(Row::new().set(PostTag::POST_ID, post).set(PostTag::TAG_ID, tag));
                any_tag = true;
            }
        }
        for c in 0..p % 3 {
            comments = comments.row(Row::new().set(Comment::POST_ID, post).set(Comment::BODY, format!("c{c}")));
            any_comment = true;
        }
    }
    if any_tag {
        exec::execute(conn, &tags).unwrap();
    }
    if any_comment {
        exec::execute(conn, &comments).unwrap();
    }
}

fn all_users() -> Select {
    select(User::ALL).from(User::TABLE).order_by(User::ID.asc())
}

/// Runs `work` and returns its result with the number of statements it sent.
fn counted<T>(conn: &mut Connection, work: impl FnOnce(&mut Connection) -> T) -> (T, usize) {
    // The server version is asked once per connection; ask it before counting.
    exec::capabilities(conn).unwrap();
    let before = conn.statement_count();
    let out = work(conn);
    (out, conn.statement_count() - before)
}

fn titles(posts: &[Post]) -> Vec<&str> {
    posts.iter().map(|p| p.title.as_str()).collect()
}

fn tag_names(post: &Post) -> Vec<&str> {
    post.tags.get().unwrap().iter().map(|t| t.name.as_str()).collect()
}

fn selectin_collections(_db: &TestDb, conn: &mut Connection) {
    seed(conn, 3, 3);
    let (users, statements) =
        counted(conn, |c| exec::fetch::<User>(c, &all_users().options(selectin(User::POSTS))).unwrap());
    assert_eq!(statements, 2, "users, then their posts");
    assert_eq!(users.len(), 3);
    assert_eq!(titles(users[1].posts.get().unwrap()), ["u2 p0", "u2 p1", "u2 p2"]);
    assert!(users[0].posts.get().unwrap()[0].tags.get().is_err(), "nested relationships stay unloaded");
    // back_populates: each post's author is its user, without a statement.
    let author = users[1].posts.get().unwrap()[2].author.get().unwrap().unwrap();
    assert_eq!(author.name, "u002");
    assert!(!author.posts.is_loaded(), "the copy is the user as it was before its posts were loaded");

    // Many-to-many through the association table, ordered by the relationship's order_by.
    let (posts, statements) = counted(conn, |c| {
        let q = select(Post::ALL).from(Post::TABLE).filter(Post::USER_ID.eq(1i64)).order_by(Post::ID.asc());
        exec::fetch::<Post>(c, &q.options(selectin(Post::TAGS)).options(selectin(Post::COMMENTS))).unwrap()
    });
    assert_eq!(statements, 3);
    let tags: Vec<Vec<&str>> = posts.iter().map(tag_names).collect();
    assert_eq!(tags, [vec!["t1"], vec!["t1", "t2"], vec!["t1", "t3"]]);
    let comments: Vec<Vec<&str>> =
        posts.iter().map(|p| p.comments.get().unwrap().iter().map(|c| c.body.as_str()).collect()).collect();
    assert_eq!(comments, [vec![], vec!["c0"], vec!["c1", "c0"]], "order_by = \"id desc\"");

    // The other side of the many-to-many.
    let tags = exec::fetch::<Tag>(conn, &select(Tag::ALL).from(Tag::TABLE).options(selectin(Tag::POSTS))).unwrap();
    let counts: Vec<usize> = tags.iter().map(|t| t.posts.get().unwrap().len()).collect();
    assert_eq!(counts, [9, 3, 3]);

    // No parent row: nothing more is sent.
    let (none, statements) = counted(conn, |c| {
        exec::fetch::<User>(c, &all_users().filter(User::ID.eq(0i64)).options(selectin(User::POSTS))).unwrap()
    });
    assert!(none.is_empty());
    assert_eq!(statements, 1);

    // The posts' statement is rendered once per shape of its key list; each
    // load binds its own keys to it.
    for user in 1..=3i64 {
        let one = exec::fetch::<User>(conn, &all_users().filter(User::ID.eq(user)).options(selectin(User::POSTS)));
        let posts = one.unwrap().remove(0).posts.get().unwrap().to_vec();
        assert_eq!(titles(&posts), (0..3).map(|p| format!("u{user} p{p}")).collect::<Vec<_>>());
    }
}

fn nested_loading_is_one_statement_per_level(_db: &TestDb, conn: &mut Connection) {
    seed(conn, 100, 10);
    let option = selectin(User::POSTS).then(selectin(Post::TAGS));
    let (users, statements) = counted(conn, |c| exec::fetch::<User>(c, &all_users().options(option)).unwrap());
    // Users; their 1,000 posts by 100 keys; the posts' tags by 1,000 keys,
    // in one parameter (on MySQL/MariaDB one IN list padded to 1,024): no
    // chunks of 500.
    assert_eq!(statements, 3);
    assert_eq!(users.len(), 100);
    assert!(users.iter().all(|u| u.posts.get().unwrap().len() == 10));
    let last = &users[99].posts.get().unwrap()[5];
    assert_eq!(last.title, "u100 p5");
    assert_eq!(tag_names(last), ["t1", "t2", "t3"]);
    let tagged: usize = users.iter().flat_map(|u| u.posts.get().unwrap()).map(|p| p.tags.get().unwrap().len()).sum();
    assert_eq!(tagged, 100 * (10 + 5 + 3));

    // 50 users: 500 posts, one chunk: exactly one statement per level.
    let (half, statements) = counted(conn, |c| {
        let q = all_users().filter(User::ID.le(50i64)).options(selectin(User::POSTS).then(selectin(Post::TAGS)));
        exec::fetch::<User>(c, &q).unwrap()
    });
    assert_eq!(statements, 3);
    assert_eq!(half.len(), 50);
}

/// A collection without an `order_by` is sorted by key after the read (its
/// statement has no `ORDER BY`): rows written in descending key order still
/// come back ascending.
fn collections_without_order_by_come_in_key_order(_db: &TestDb, conn: &mut Connection) {
    blog(conn);
    exec::execute(conn, &insert_into(User::TABLE).row(Row::new().set(User::NAME, "u"))).unwrap();
    exec::execute(conn, &insert_into(Tag::TABLE).row(Row::new().set(Tag::NAME, "t"))).unwrap();
    for id in [30i64, 20, 10] {
        let post = Row::new().set(Post::ID, id).set(Post::USER_ID, 1i64).set(Post::TITLE, format!("p{id}"));
        exec::execute(conn, &insert_into(Post::TABLE).row(post)).unwrap();
        let link = Row::new().set(PostTag::POST_ID, id).set(PostTag::TAG_ID, 1i32);
        exec::execute(conn, &insert_into(PostTag::TABLE).row(link)).unwrap();
    }
    let tags = exec::fetch::<Tag>(conn, &select(Tag::ALL).from(Tag::TABLE).options(selectin(Tag::POSTS))).unwrap();
    assert_eq!(titles(tags[0].posts.get().unwrap()), ["p10", "p20", "p30"]);
}

/// Past 500 parents (SQLAlchemy's chunk) and past 4,096 (where
/// MySQL/MariaDB go from an `IN` list to `JSON_TABLE`): one statement.
fn selectin_past_4096_parents_in_one_statement(_db: &TestDb, conn: &mut Connection) {
    seed(conn, 4097, 1);
    let (users, statements) =
        counted(conn, |c| exec::fetch::<User>(c, &all_users().options(selectin(User::POSTS))).unwrap());
    assert_eq!(statements, 1 + 1, "4,097 keys in one parameter");
    assert_eq!(users.len(), 4097);
    assert!(users.iter().all(|u| titles(u.posts.get().unwrap()) == [format!("u{} p0", u.id)]));
    // Many-to-one by 4,097 distinct keys.
    let (posts, statements) = counted(conn, |c| {
        let q = select(Post::ALL).from(Post::TABLE).order_by(Post::ID.asc()).options(selectin(Post::AUTHOR));
        exec::fetch::<Post>(c, &q).unwrap()
    });
    assert_eq!(statements, 2);
    assert_eq!(posts.len(), 4097);
    assert!(posts.iter().all(|p| p.author.get().unwrap().is_some_and(|a| a.id == p.user_id)));
}

fn joined_to_one(_db: &TestDb, conn: &mut Connection) {
    seed(conn, 3, 3);
    let q = select(Post::ALL)
        .from(Post::TABLE)
        .order_by(Post::ID.asc())
        .options(joined(Post::AUTHOR).then(joined(User::PROFILE)));
    let (posts, statements) = counted(conn, |c| exec::fetch::<Post>(c, &q).unwrap());
    assert_eq!(statements, 1, "one LEFT JOIN each, in the same statement");
    assert_eq!(posts.len(), 9, "no duplicate rows");
    let author = posts[3].author.get().unwrap().unwrap();
    assert_eq!(author.name, "u002");
    assert_eq!(author.profile.get().unwrap().map(|p| p.bio.as_str()), Some("second"));
    let third = posts[8].author.get().unwrap().unwrap();
    assert_eq!(third.profile.get().unwrap(), None, "u003 has no profile: NULL columns read as none");

    // A has_one with several rows per parent: selectin takes the first by
    // its order_by; joined collapses the repeated parent rows.
    let q = select(Post::ALL).from(Post::TABLE).filter(Post::USER_ID.eq(1i64)).order_by(Post::ID.asc());
    let newest = exec::fetch::<Post>(conn, &q.clone().options(selectin(Post::LAST_COMMENT))).unwrap();
    let bodies: Vec<Option<&str>> =
        newest.iter().map(|p| p.last_comment.get().unwrap().map(|c| c.body.as_str())).collect();
    assert_eq!(bodies, [None, Some("c0"), Some("c1")]);
    let (joined_rows, statements) =
        counted(conn, |c| exec::fetch::<Post>(c, &q.options(joined(Post::LAST_COMMENT))).unwrap());
    assert_eq!(statements, 1);
    assert_eq!(titles(&joined_rows), ["u1 p0", "u1 p1", "u1 p2"], "one row per post, not one per comment");
    assert!(joined_rows[2].last_comment.get().unwrap().is_some());
    assert!(joined_rows[0].last_comment.get().unwrap().is_none());

    // A joined relationship with a selectin below it.
    let q = select(Post::ALL)
        .from(Post::TABLE)
        .filter(Post::USER_ID.eq(1i64))
        .options(joined(Post::AUTHOR).then(selectin(User::POSTS)));
    let (posts, statements) = counted(conn, |c| exec::fetch::<Post>(c, &q).unwrap());
    assert_eq!(statements, 2);
    let siblings = posts[0].author.get().unwrap().unwrap().posts.get().unwrap();
    assert_eq!(titles(siblings), ["u1 p0", "u1 p1", "u1 p2"]);

    // joined is for to-one relationships.
    let e = exec::fetch::<User>(conn, &all_users().options(joined(User::POSTS))).unwrap_err();
    assert_eq!(
        e.to_string(),
        "User.posts is a collection: load it with selectin(User::POSTS), joined is for many-to-one and one-to-one"
    );
    // An option for another model's relationship.
    let e = exec::fetch::<User>(conn, &all_users().options(selectin(Post::TAGS))).unwrap_err();
    assert_eq!(e.to_string(), "the option for Post.tags does not apply to User rows");
    let e = exec::fetch::<(i64,)>(conn, &select(User::ID).from(User::TABLE).options(selectin(User::POSTS)));
    assert!(matches!(e, Err(Error::Relation(RelationError::OptionsNeedModel))), "{e:?}");
}

fn defaults_and_raiseload(_db: &TestDb, conn: &mut Connection) {
    seed(conn, 3, 1);
    // User.profile loads joined by default (load = "joined"): no statement more.
    let (users, statements) = counted(conn, |c| exec::fetch::<User>(c, &all_users()).unwrap());
    assert_eq!(statements, 1);
    assert_eq!(users[0].profile.get().unwrap().map(|p| p.bio.as_str()), Some("first"));
    assert_eq!(users[2].profile.get().unwrap(), None);
    // ... unless the query says otherwise.
    let users = exec::fetch::<User>(conn, &all_users().options(raiseload(User::PROFILE))).unwrap();
    assert!(users[0].profile.get().is_err());
    // Defaults apply below a relationship too (Post.author -> User.profile).
    let posts =
        exec::fetch::<Post>(conn, &select(Post::ALL).from(Post::TABLE).options(selectin(Post::AUTHOR))).unwrap();
    assert!(posts.iter().all(|p| p.author.get().unwrap().unwrap().profile.is_loaded()));
}

fn unloaded_relationships_are_errors(_db: &TestDb, conn: &mut Connection) {
    seed(conn, 2, 1);
    let users = exec::fetch::<User>(conn, &all_users()).unwrap();
    let e = users[0].posts.get().unwrap_err();
    assert_eq!(
        e.to_string(),
        "User.posts is not loaded: add .options(selectin(User::POSTS)) to the query, or call session.load(handle, \
         User::POSTS)"
    );
    let posts = exec::fetch::<Post>(conn, &select(Post::ALL).from(Post::TABLE)).unwrap();
    let e = posts[0].author.get().unwrap_err();
    assert!(e.to_string().starts_with("Post.author is not loaded: add .options(joined(Post::AUTHOR))"), "{e}");
    // An object made in Rust has loaded nothing either.
    assert_eq!(User::default().posts.get().unwrap_err(), RelationError::NeverLoaded);
    // The explicit lazy load, without a session: one statement.
    let mut post = posts.into_iter().next().unwrap();
    let ((), statements) = counted(conn, |c| migrate::orm::relation::load(c, &mut post, Post::AUTHOR).unwrap());
    assert_eq!(statements, 1, "the author, its profile joined (its default)");
    assert_eq!(post.author.get().unwrap().map(|a| a.id), Some(post.user_id));
}

fn joins_and_exists_through_relationships(_db: &TestDb, conn: &mut Connection) {
    seed(conn, 3, 3);
    let names = |conn: &mut Connection, q: Select| exec::fetch::<String>(conn, &q).unwrap();
    // Users with a post tagged t3 (many-to-many EXISTS), with posts at all (has_many EXISTS).
    let tagged = select(User::NAME)
        .from(User::TABLE)
        .filter(User::POSTS.any(Post::TAGS.any(Tag::NAME.eq("t3")).and(Post::USER_ID.ne(2i64))))
        .order_by(User::NAME.asc());
    assert_eq!(names(conn, tagged), ["u001", "u003"]);
    let lonely = select(User::NAME).from(User::TABLE).filter(not(User::POSTS.exists()));
    assert!(names(conn, lonely).is_empty());
    // Posts whose author has a profile (belongs_to -> has_one).
    let q = select(Post::TITLE)
        .from(Post::TABLE)
        .filter(Post::AUTHOR.has(User::PROFILE.has(Profile::BIO.eq("second"))))
        .order_by(Post::ID.asc());
    assert_eq!(names(conn, q), ["u2 p0", "u2 p1", "u2 p2"]);
    // Joins with ON from the foreign key.
    let q = select((User::NAME, Tag::NAME))
        .from(User::TABLE)
        .join_related(User::POSTS)
        .join_related(Post::TAGS)
        .filter(Tag::NAME.eq("t2"))
        .order_by(Post::ID.asc());
    let rows: Vec<(String, String)> = exec::fetch(conn, &q).unwrap();
    assert_eq!(
        rows,
        [("u001".to_string(), "t2".to_string()), ("u002".into(), "t2".into()), ("u003".into(), "t2".into())]
    );
    let q = select((User::NAME, count(Profile::ID)))
        .from(User::TABLE)
        .left_join_related(User::PROFILE)
        .group_by(User::NAME)
        .order_by(User::NAME.asc());
    let rows: Vec<(String, i64)> = exec::fetch(conn, &q).unwrap();
    assert_eq!(rows, [("u001".to_string(), 1), ("u002".into(), 1), ("u003".into(), 0)]);
    let explicit = select(Post::TITLE)
        .from(User::TABLE)
        .join(Post::TABLE, User::POSTS.on().and(Post::TITLE.like("%p2")))
        .order_by(Post::ID.asc());
    assert_eq!(names(conn, explicit), ["u1 p2", "u2 p2", "u3 p2"]);
}

fn session_queries_and_lazy_loads(db: &TestDb, conn: &mut Connection) {
    seed(conn, 3, 2);
    let pool = Pool::open(&db.url, PoolOptions::default()).unwrap();
    let mut s = pool.session();
    s.set_n_plus_one(NPlusOne::Error);
    let before = s.statement_count();
    let users = s.query::<User>(|q| q.order_by(User::ID.asc()).options(selectin(User::POSTS))).unwrap();
    assert_eq!(s.statement_count() - before, 3, "the server's version (once per connection), users, posts");
    assert_eq!(titles(s[users[0]].posts.get().unwrap()), ["u1 p0", "u1 p1"]);
    // A user already in the session takes what a later query loaded.
    let again = s.query::<User>(|q| q.filter(User::ID.eq(2i64))).unwrap();
    assert_eq!(again, [users[1]]);
    assert!(s[users[1]].posts.is_loaded(), "a later query without options leaves loaded relationships alone");
    // Lazy on explicit request only: one statement.
    let post = s.get::<Post>(&1).unwrap().unwrap();
    let before = s.statement_count();
    s.load(post, Post::TAGS).unwrap();
    assert_eq!(s.statement_count() - before, 1);
    assert_eq!(tag_names(&s[post]), ["t1"]);
    // A handle whose object left the session loads nothing.
    s.expunge(post).unwrap();
    let e = s.load(post, Post::TAGS).unwrap_err();
    assert!(matches!(e, Error::StaleHandle { model: "Post", .. }), "{e}");
    s.commit().unwrap();
}

fn n_plus_one_detector(db: &TestDb, conn: &mut Connection) {
    seed(conn, 3, 1);
    let pool = Pool::open(&db.url, PoolOptions::default()).unwrap();
    let mut s = pool.session();
    s.set_n_plus_one(NPlusOne::Warn);
    let users = s.query::<User>(|q| q.order_by(User::ID.asc())).unwrap();
    s.load(users[0], User::POSTS).unwrap();
    assert!(s.n_plus_one_warnings().is_empty(), "one lazy load is not N+1");
    // Objects of another query, and another relationship, count apart.
    let other = s.query::<Post>(|q| q).unwrap();
    s.load(other[0], Post::TAGS).unwrap();
    assert!(s.n_plus_one_warnings().is_empty());
    s.load(users[1], User::POSTS).unwrap();
    s.load(users[2], User::POSTS).unwrap();
    assert_eq!(
        s.n_plus_one_warnings(),
        ["N+1 queries: User.posts lazily loaded for 2 objects of one query; load them all at once with \
          .options(selectin(User::POSTS))"],
        "warned once"
    );
    s.set_n_plus_one(NPlusOne::Error);
    let users = s.query::<User>(|q| q.order_by(User::ID.asc())).unwrap();
    s.load(users[0], User::POSTS).unwrap();
    let e = s.load(users[1], User::POSTS).unwrap_err();
    assert!(matches!(e, Error::Relation(RelationError::NPlusOne { count: 2, .. })), "{e}");
    s.set_n_plus_one(NPlusOne::Off);
    s.load(users[1], User::POSTS).unwrap();
}

fn relationship_changes(db: &TestDb, conn: &mut Connection) {
    seed(conn, 2, 2);
    let pool = Pool::open(&db.url, PoolOptions::default()).unwrap();
    let mut s = pool.session();
    let posts = s.query::<Post>(|q| q.order_by(Post::ID.asc()).options(selectin(Post::TAGS))).unwrap();
    let tags = s.query::<Tag>(|q| q.order_by(Tag::ID.asc())).unwrap();
    assert_eq!(tag_names(&s[posts[0]]), ["t1"]);
    s.link(posts[0], Post::TAGS, tags[2]).unwrap();
    assert_eq!(tag_names(&s[posts[0]]), ["t1", "t3"], "the loaded collection follows");
    s.unlink(posts[0], Post::TAGS, tags[0]).unwrap();
    assert_eq!(tag_names(&s[posts[0]]), ["t3"]);
    // A new tag gets its key at the flush, before its association row.
    let new = s.add(Tag { name: "t9".into(), ..Tag::default() });
    s.link(posts[1], Post::TAGS, new).unwrap();
    assert_eq!(s[new].id, 0, "nothing is written before the flush");
    s.commit().unwrap();
    let q = select(Post::ALL).from(Post::TABLE).order_by(Post::ID.asc()).options(selectin(Post::TAGS));
    let stored = exec::fetch::<Post>(conn, &q).unwrap();
    assert_eq!(tag_names(&stored[0]), ["t3"]);
    assert_eq!(tag_names(&stored[1]), ["t1", "t2", "t9"]);

    // One-to-many: move the first post to the second user, then back with set_parent.
    let users = s.query::<User>(|q| q.order_by(User::ID.asc()).options(selectin(User::POSTS))).unwrap();
    s.append(users[1], User::POSTS, posts[0]).unwrap();
    assert_eq!(s[posts[0]].user_id, s[users[1]].id, "the child was read again");
    assert!(titles(s[users[1]].posts.get().unwrap()).contains(&"u1 p0"));
    s.set_parent(posts[0], Post::AUTHOR, users[0]).unwrap();
    assert_eq!(s[posts[0]].user_id, s[users[0]].id);
    assert_eq!(s[posts[0]].author.get().unwrap().map(|a| a.name.as_str()), Some("u001"));
    // The kinds are checked, and a NOT NULL foreign key refuses remove.
    let e = s.link(users[0], User::POSTS, posts[0]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "User.posts is a has_many: link and unlink are for many_to_many; use append or set_parent"
    );
    let e = s.remove(users[0], User::POSTS, posts[1]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "User.posts: Post.user_id is NOT NULL, so a Post cannot be without its User: delete it, give it another User, \
         or declare the relationship with cascade = \"delete-orphan\""
    );
    assert_eq!(s[posts[1]].user_id, 1, "refused: nothing changed");
    s.commit().unwrap();
    let stored: Vec<(i64, i64)> =
        exec::fetch(conn, &select((Post::ID, Post::USER_ID)).from(Post::TABLE).order_by(Post::ID.asc())).unwrap();
    assert_eq!(stored[..2], [(1, 1), (2, 1)]);
}

/// Objects appended, linked or given a parent while pending: the copies in
/// the loaded relationships take their generated keys at the flush, and
/// unlinking one pending object leaves the other pending copies alone.
fn copies_in_loaded_relationships_follow_the_flush(db: &TestDb, conn: &mut Connection) {
    seed(conn, 2, 1);
    let pool = Pool::open(&db.url, PoolOptions::default()).unwrap();
    let mut s = pool.session();
    let user = s.query::<User>(|q| q.order_by(User::ID.asc()).options(selectin(User::POSTS))).unwrap()[0];
    let post = s.query::<Post>(|q| q.order_by(Post::ID.asc()).options(selectin(Post::TAGS))).unwrap()[0];
    let drafts: Vec<_> = (1..=3).map(|n| s.add(Post { title: format!("draft {n}"), ..Post::default() })).collect();
    let tags: Vec<_> = (1..=3).map(|n| s.add(Tag { name: format!("new {n}"), ..Tag::default() })).collect();
    for &draft in &drafts {
        s.append(user, User::POSTS, draft).unwrap();
    }
    for &tag in &tags {
        s.link(post, Post::TAGS, tag).unwrap();
    }
    s.unlink(post, Post::TAGS, tags[1]).unwrap();
    let ann = s.add(User { name: "ann".into(), ..User::default() });
    s.set_parent(drafts[2], Post::AUTHOR, ann).unwrap();
    s.flush().unwrap();
    let draft_ids: Vec<i64> = drafts.iter().map(|&d| s[d].id).collect();
    assert!(draft_ids.iter().all(|&id| id > 0), "{draft_ids:?}");
    let keys = |posts: &[Post]| posts.iter().map(|p| (p.id, p.user_id)).collect::<Vec<_>>();
    let uid = s[user].id;
    assert_eq!(
        keys(s[user].posts.get().unwrap()),
        [(1, uid), (draft_ids[0], uid), (draft_ids[1], uid), (draft_ids[2], s[ann].id)],
        "the copies as written (the third was given to ann after: the old parent's collection keeps it)"
    );
    let linked: Vec<(i32, &str)> = s[post].tags.get().unwrap().iter().map(|t| (t.id, t.name.as_str())).collect();
    let tag_ids = (s[tags[0]].id, s[tags[2]].id);
    assert!(tag_ids.0 > 0 && tag_ids.1 > 0);
    assert_eq!(linked[linked.len() - 2..], [(tag_ids.0, "new 1"), (tag_ids.1, "new 3")], "{linked:?}");
    let author = s[drafts[2]].author.get().unwrap().map(|a| a.id);
    assert_eq!(author, Some(s[ann].id), "a pending parent's copy has its key");
    s.rollback().unwrap();
}

/// The writes among `lines`, without quotes and from the statement's start
/// to its `-- ...` echo comment.
fn writes(lines: &crate::flush::Lines) -> Vec<String> {
    let lines = lines.lock().unwrap();
    let writes = lines.iter().filter(|l| ["INSERT", "UPDATE", "DELETE"].iter().any(|w| l.starts_with(w)));
    writes.map(|l| l.split(" -- ").next().unwrap_or_default().replace(['"', '`'], "")).collect()
}

fn relationship_changes_wait_for_flush(db: &TestDb, conn: &mut Connection) {
    seed(conn, 2, 2); // posts 1 and 3 have tag 1; posts 2 and 4 tags 1 and 2
    let (pool, lines) = crate::flush::echo_pool(db, false);
    let mut s = pool.session();
    let posts = s.query::<Post>(|q| q.order_by(Post::ID.asc())).unwrap();
    let tags = s.query::<Tag>(|q| q.order_by(Tag::ID.asc())).unwrap();
    let before = s.statement_count();
    // A new user, a new post appended to it, an existing post moved to it,
    // tags linked and unlinked: nothing is sent yet.
    let ann = s.add(User { name: "ann".into(), ..User::default() });
    let draft = s.add(Post { title: "draft".into(), ..Post::default() });
    s.append(ann, User::POSTS, draft).unwrap();
    s.set_parent(posts[1], Post::AUTHOR, ann).unwrap();
    s.link(draft, Post::TAGS, tags[2]).unwrap();
    s.link(draft, Post::TAGS, tags[1]).unwrap();
    s.unlink(posts[1], Post::TAGS, tags[0]).unwrap();
    assert_eq!(s.statement_count(), before, "recorded, not sent");
    assert_eq!(s[draft].user_id, 0, "the pending parent has no key yet");
    lines.lock().unwrap().clear();
    s.flush().unwrap();
    let written = writes(&lines);
    let head = |w: &String| {
        let words = w.split_whitespace().take_while(|t| !t.starts_with('(') && !["SET", "WHERE", "VALUES"].contains(t));
        words.collect::<Vec<_>>().join(" ")
    };
    assert_eq!(
        written.iter().map(head).collect::<Vec<_>>(),
        ["INSERT INTO users", "INSERT INTO posts", "UPDATE posts", "INSERT INTO post_tags", "DELETE FROM post_tags"],
        "parents before children, association rows after both (in the order asked): {written:#?}"
    );
    assert!(written[2].starts_with("UPDATE posts SET user_id = "), "only the changed column: {}", written[2]);
    assert!(!written[2].contains("title"), "{}", written[2]);
    assert_eq!(written[3].matches("), (").count(), 1, "two links, one INSERT: {}", written[3]);
    let ann_id = s[ann].id;
    assert!(ann_id > 0);
    assert_eq!((s[draft].user_id, s[posts[1]].user_id), (ann_id, ann_id), "the generated key, copied after the INSERT");

    // A savepoint rolled back forgets the changes made inside it.
    let mut sp = s.begin_nested().unwrap();
    sp.link(posts[0], Post::TAGS, tags[1]).unwrap();
    sp.rollback().unwrap();
    // Autoflush before a query writes what is recorded.
    s.unlink(draft, Post::TAGS, tags[2]).unwrap();
    let links: Vec<(i64, i32)> = s
        .execute(
            &select((PostTag::POST_ID, PostTag::TAG_ID))
                .from(PostTag::TABLE)
                .order_by(PostTag::POST_ID.asc())
                .order_by(PostTag::TAG_ID.asc()),
        )
        .unwrap();
    let draft_id = s[draft].id;
    assert_eq!(links, [(1, 1), (2, 2), (3, 1), (4, 1), (4, 2), (draft_id, 2)]);
    s.commit().unwrap();
    let stored: Vec<(i64, i64)> =
        exec::fetch(conn, &select((Post::ID, Post::USER_ID)).from(Post::TABLE).order_by(Post::ID.asc())).unwrap();
    assert_eq!(stored, [(1, 1), (2, ann_id), (3, 2), (4, 2), (draft_id, ann_id)]);
}

/// An author's articles and their replies, deleted by the session's
/// cascades (the foreign keys have no `ON DELETE`), and notes whose
/// nullable key is cleared.
#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "c_authors")]
pub struct CAuthor {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(has_many(CArticle, foreign_key = "author_id", cascade = "save-update, delete"))]
    pub articles: Many<CArticle>,
    #[model(has_many(CNote, foreign_key = "author_id"))]
    pub notes: Many<CNote>,
    /// The same notes, declared delete-orphan over their nullable key.
    #[model(has_many(CNote, foreign_key = "author_id", cascade = "delete-orphan"))]
    pub own_notes: Many<CNote>,
}

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "c_articles")]
pub struct CArticle {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(references = "c_authors.id")]
    pub author_id: i64,
    #[model(max_length = 50)]
    pub title: String,
    #[model(has_many(CReply, foreign_key = "article_id", cascade = "delete, delete-orphan"))]
    pub replies: Many<CReply>,
}

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "c_replies")]
pub struct CReply {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(references = "c_articles.id")]
    pub article_id: i64,
    #[model(max_length = 50)]
    pub body: String,
}

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "c_notes")]
pub struct CNote {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(references = "c_authors.id")]
    pub author_id: Option<i64>,
}

/// The same rows, deleted by the database: `ON DELETE CASCADE`.
#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "d_authors")]
pub struct DAuthor {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(has_many(DArticle, foreign_key = "author_id"))]
    pub articles: Many<DArticle>,
}

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "d_articles")]
pub struct DArticle {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(references = "d_authors.id", on_delete = "cascade")]
    pub author_id: i64,
    #[model(max_length = 50)]
    pub title: String,
}

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "d_replies")]
pub struct DReply {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(references = "d_articles.id", on_delete = "cascade")]
    pub article_id: i64,
    #[model(max_length = 50)]
    pub body: String,
}

fn cascade_delete_agrees_with_on_delete_cascade(db: &TestDb, conn: &mut Connection) {
    create(conn, &[CAuthor::table(), CArticle::table(), CReply::table(), CNote::table()]);
    create(conn, &[DAuthor::table(), DArticle::table(), DReply::table()]);
    // Two authors, three articles each, two replies per article; author 1 has two notes.
    for (authors, articles, replies) in
        [("c_authors", "c_articles", "c_replies"), ("d_authors", "d_articles", "d_replies")]
    {
        let mut sql = vec![format!("INSERT INTO {authors} (id) VALUES (1), (2)")];
        for a in 1..=6 {
            sql.push(format!("INSERT INTO {articles} (id, author_id, title) VALUES ({a}, {}, 'a{a}')", (a + 2) / 3));
            for r in 1..=2 {
                sql.push(format!("INSERT INTO {replies} (article_id, body) VALUES ({a}, 'a{a} r{r}')"));
            }
        }
        sql.iter().for_each(|q| conn.execute(q).unwrap());
    }
    conn.execute("INSERT INTO c_notes (author_id) VALUES (1), (1), (2)").unwrap();

    let pool = Pool::open(&db.url, PoolOptions::default()).unwrap();
    let mut s = pool.session();
    // Some children loaded (article 1, its replies; the notes), the rest not.
    let author = s.query::<CAuthor>(|q| q.filter(CAuthor::ID.eq(1i64))).unwrap()[0];
    let article = s.query::<CArticle>(|q| q.filter(CArticle::ID.eq(1i64))).unwrap()[0];
    let replies = s.query::<CReply>(|q| q.filter(CReply::ARTICLE_ID.eq(1i64))).unwrap();
    let notes = s.query::<CNote>(|q| q.order_by(CNote::ID.asc())).unwrap();
    // delete-orphan: a reply taken out of its article is deleted.
    let kept = s.query::<CReply>(|q| q.filter(CReply::ARTICLE_ID.eq(4i64)).order_by(CReply::ID.asc())).unwrap();
    let article4 = s.query::<CArticle>(|q| q.filter(CArticle::ID.eq(4i64))).unwrap()[0];
    s.remove(article4, CArticle::REPLIES, kept[0]).unwrap();
    s.delete(author).unwrap();
    assert_eq!([s[notes[0]].author_id, s[notes[1]].author_id, s[notes[2]].author_id], [None, None, Some(2)]);
    s.commit().unwrap();
    assert!(s.try_get(article).is_err() && s.try_get(replies[0]).is_err(), "loaded children were deleted with it");
    // The database's cascade, for the same rows.
    let d_author = s.get::<DAuthor>(&1).unwrap().unwrap();
    s.delete(d_author).unwrap();
    s.commit().unwrap();

    let left = |conn: &mut Connection, table: &str, column: &str| -> Vec<String> {
        let sql = format!("SELECT {column} FROM {table} ORDER BY {column}");
        let rows: Vec<(String,)> = exec::fetch(conn, &migrate::orm::query::text(&sql)).unwrap();
        rows.into_iter().map(|(v,)| v).collect()
    };
    assert_eq!(left(conn, "c_articles", "title"), ["a4", "a5", "a6"]);
    assert_eq!(left(conn, "c_articles", "title"), left(conn, "d_articles", "title"), "the same articles left");
    let d_replies = left(conn, "d_replies", "body");
    let mut expected: Vec<&str> = d_replies.iter().map(String::as_str).filter(|b| *b != "a4 r1").collect();
    expected.sort();
    assert_eq!(left(conn, "c_replies", "body"), expected, "the same replies left, but the orphan");
    let notes: Vec<(Option<i64>,)> =
        exec::fetch(conn, &select(CNote::AUTHOR_ID).from(CNote::TABLE).order_by(CNote::ID.asc())).unwrap();
    assert_eq!(notes, [(None,), (None,), (Some(2),)], "without cascade delete, the loaded children's key is NULL");

    // Without cascade delete, a loaded child whose key is NOT NULL refuses.
    let d_author = s.get::<DAuthor>(&2).unwrap().unwrap();
    s.query::<DArticle>(|q| q.filter(DArticle::AUTHOR_ID.eq(2i64))).unwrap();
    let e = s.delete(d_author).unwrap_err();
    assert_eq!(
        e.to_string(),
        "DAuthor.articles: DArticle.author_id is NOT NULL, so a DArticle cannot be without its DAuthor: delete it, \
         give it another DAuthor, or declare the relationship with cascade = \"delete-orphan\""
    );
    s.rollback().unwrap();

    // Where the cascades and the foreign keys' ON DELETE disagree (logged once, at first use).
    assert_eq!(
        DAuthor::ARTICLES.def().cascade_warnings().unwrap(),
        ["DAuthor.articles: the foreign key d_articles(author_id) is ON DELETE CASCADE but the relationship has no \
          cascade = \"delete\": deleting a DAuthor in a session sets its loaded DArticle rows' key to NULL first; \
          declare cascade = \"delete\" to agree with the database"]
    );
    assert_eq!(
        CAuthor::OWN_NOTES.def().cascade_warnings().unwrap(),
        ["CAuthor.own_notes: delete-orphan over the nullable foreign key c_notes(author_id): the session deletes the \
          CNote rows it takes out, but the database keeps rows whose key is set to NULL elsewhere; make the key NOT \
          NULL to agree"]
    );
    assert!(CAuthor::ARTICLES.def().cascade_warnings().unwrap().is_empty());
    assert!(CArticle::REPLIES.def().cascade_warnings().unwrap().is_empty());
}

fn shop_tables() -> Vec<migrate::schema::Table> {
    vec![
        shop::Countries::table(),
        shop::Currencies::table(),
        shop::Customers::table(),
        shop::Addresses::table(),
        shop::Categories::table(),
        shop::Suppliers::table(),
        shop::Products::table(),
        shop::Tags::table(),
        shop::ProductTags::table(),
        shop::Warehouses::table(),
        shop::Orders::table(),
        shop::OrderLines::table(),
        shop::Shipments::table(),
        shop::ShipmentItems::table(),
    ]
}

fn shop_composite_keys_and_self_references(db: &TestDb, conn: &mut Connection) {
    let dialect = dialect::of(conn.backend());
    let status = migrate::schema::EnumType {
        name: "order_status".into(),
        values: ["pending", "paid", "shipped", "cancelled"].map(String::from).to_vec(),
    };
    if let Some(sql) = dialect.create_enum(&status) {
        conn.execute(&sql).unwrap();
    }
    create(conn, &shop_tables());
    for sql in [
        "INSERT INTO countries (code, name) VALUES ('FR', 'France')",
        "INSERT INTO currencies (code, decimals) VALUES ('EUR', 2)",
        "INSERT INTO customers (id, email, name, referred_by, created_at, newsletter) VALUES \
         (1, 'a@x.io', 'Ann', NULL, '2026-01-01 00:00:00', FALSE), (2, 'b@x.io', 'Bob', 1, '2026-01-01 00:00:00', FALSE), \
         (3, 'c@x.io', 'Cid', 1, '2026-01-01 00:00:00', FALSE), (4, 'd@x.io', 'Dee', 3, '2026-01-01 00:00:00', FALSE)",
        "INSERT INTO categories (id, parent_id, slug, position) VALUES (1, NULL, 'root', 0), (2, 1, 'b', 1), \
         (3, 1, 'a', 1), (4, 2, 'leaf', 0)",
        "INSERT INTO products (id, sku, name, category_id, price, currency, active) VALUES \
         (1, 'P1', 'Pen', 4, 1.50, 'EUR', TRUE), (2, 'P2', 'Ink', 4, 3.00, 'EUR', TRUE)",
        "INSERT INTO tags (id, label) VALUES (1, 'blue'), (2, 'cheap')",
        "INSERT INTO product_tags (product_id, tag_id) VALUES (1, 1), (1, 2), (2, 2)",
        "INSERT INTO warehouses (id, name, country_code) VALUES (1, 'Lyon', 'FR')",
        "INSERT INTO orders (id, customer_id, status, currency, total, placed_at) VALUES \
         (10, 2, 'paid', 'EUR', 4.50, '2026-01-02 00:00:00'), (11, 2, 'pending', 'EUR', 3.00, '2026-01-03 00:00:00')",
        "INSERT INTO order_lines (order_id, line_no, product_id, quantity, unit_price) VALUES \
         (10, 2, 2, 1, 3.00), (10, 1, 1, 1, 1.50), (11, 1, 2, 1, 3.00)",
        "INSERT INTO shipments (id, order_id, warehouse_id) VALUES (100, 10, 1)",
        "INSERT INTO shipment_items (shipment_id, order_id, line_no, quantity) VALUES (100, 10, 1, 1), (100, 10, 2, 1)",
    ] {
        conn.execute(sql).unwrap();
    }
    // Self-reference both ways, nested: Ann's referrals and theirs.
    let q = select(shop::Customers::ALL)
        .from(shop::Customers::TABLE)
        .filter(shop::Customers::REFERRED_BY.is_null())
        .options(
            selectin(shop::Customers::REFERRALS)
                .then(selectin(shop::Customers::REFERRALS))
                .then(joined(shop::Customers::REFERRER)),
        );
    let (ann, statements) = counted(conn, |c| exec::fetch::<shop::Customers>(c, &q).unwrap());
    assert_eq!(statements, 3);
    let referrals = ann[0].referrals.get().unwrap();
    assert_eq!(referrals.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["Bob", "Cid"]);
    assert_eq!(referrals[1].referrer.get().unwrap().map(|r| r.name.as_str()), Some("Ann"));
    let dee = referrals[1].referrals.get().unwrap();
    assert_eq!(dee.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["Dee"]);

    // Composite keys: order -> lines (key order_id, line_no) -> shipped items (composite foreign key).
    let q = select(shop::Orders::ALL)
        .from(shop::Orders::TABLE)
        .order_by(shop::Orders::ID.asc())
        .options(selectin(shop::Orders::LINES).then(selectin(shop::OrderLines::SHIPPED)))
        .options(joined(shop::Orders::CUSTOMER));
    let (orders, statements) = counted(conn, |c| exec::fetch::<shop::Orders>(c, &q).unwrap());
    assert_eq!(statements, 3);
    assert_eq!(orders[0].customer.get().unwrap().map(|c| c.name.as_str()), Some("Bob"));
    let lines = orders[0].lines.get().unwrap();
    assert_eq!(lines.iter().map(|l| l.line_no).collect::<Vec<_>>(), [1, 2], "order_by = \"line_no\"");
    assert!(lines.iter().all(|l| l.shipped.get().unwrap().len() == 1));
    assert!(orders[1].lines.get().unwrap()[0].shipped.get().unwrap().is_empty());
    let items = exec::fetch::<shop::ShipmentItems>(
        conn,
        &select(shop::ShipmentItems::ALL).from(shop::ShipmentItems::TABLE).options(joined(shop::ShipmentItems::LINE)),
    )
    .unwrap();
    assert!(items.iter().all(|i| i.line.get().unwrap().is_some_and(|l| l.line_no == i.line_no)));
    // Past 500 composite keys: IN lists of 500 keys, one statement each
    // (MySQL/MariaDB: up to 2,048 two-column keys in one).
    let more: Vec<String> = (2..=601).map(|n| format!("(11, {n}, 2, 1, 3.00)")).collect();
    conn.execute(&format!(
        "INSERT INTO order_lines (order_id, line_no, product_id, quantity, unit_price) VALUES {}",
        more.join(", ")
    ))
    .unwrap();
    let q = select(shop::OrderLines::ALL).from(shop::OrderLines::TABLE).options(selectin(shop::OrderLines::SHIPPED));
    let (lines, statements) = counted(conn, |c| exec::fetch::<shop::OrderLines>(c, &q).unwrap());
    assert_eq!(lines.len(), 603);
    assert_eq!(statements, if db.backend() == Backend::Mysql { 2 } else { 1 + 2 }, "603 keys: 500 + 103");
    let shipped: Vec<(i64, i16)> =
        lines.iter().filter(|l| !l.shipped.get().unwrap().is_empty()).map(|l| (l.order_id, l.line_no)).collect();
    assert_eq!(shipped.len(), 2);
    assert!(shipped.contains(&(10, 1)) && shipped.contains(&(10, 2)));

    // Categories: a tree by a self-reference, children ordered by position then slug descending.
    let q = select(shop::Categories::ALL)
        .from(shop::Categories::TABLE)
        .filter(shop::Categories::PARENT_ID.is_null())
        .options(selectin(shop::Categories::CHILDREN).then(selectin(shop::Categories::CHILDREN)));
    let root = exec::fetch::<shop::Categories>(conn, &q).unwrap();
    let children = root[0].children.get().unwrap();
    assert_eq!(children.iter().map(|c| c.slug.as_str()).collect::<Vec<_>>(), ["b", "a"]);
    assert_eq!(children[0].children.get().unwrap()[0].slug, "leaf");
    // A self-referencing EXISTS aliases the inner table by the relationship's name.
    let q = select(shop::Categories::SLUG)
        .from(shop::Categories::TABLE)
        .filter(shop::Categories::CHILDREN.any(shop::Categories::SLUG.of("children").eq("leaf")));
    assert_eq!(exec::fetch::<String>(conn, &q).unwrap(), ["b"]);

    // Many-to-many with the other side.
    let q = select(shop::Products::ALL)
        .from(shop::Products::TABLE)
        .order_by(shop::Products::ID.asc())
        .options(selectin(shop::Products::TAGS).then(selectin(shop::Tags::PRODUCTS)));
    let products = exec::fetch::<shop::Products>(conn, &q).unwrap();
    let labels: Vec<&str> = products[0].tags.get().unwrap().iter().map(|t| t.label.as_str()).collect();
    assert_eq!(labels, ["blue", "cheap"]);
    assert_eq!(products[0].tags.get().unwrap()[1].products.get().unwrap().len(), 2);

    // remove through a nullable self-reference: Bob is nobody's referral any more.
    let pool = Pool::open(&db.url, PoolOptions::default()).unwrap();
    let mut s = pool.session();
    let ann = s
        .query::<shop::Customers>(|q| {
            q.filter(shop::Customers::REFERRED_BY.is_null()).options(selectin(shop::Customers::REFERRALS))
        })
        .unwrap();
    let bob = s.get::<shop::Customers>(&2).unwrap().unwrap();
    s.remove(ann[0], shop::Customers::REFERRALS, bob).unwrap();
    assert_eq!(s[bob].referred_by, None);
    let names: Vec<&str> = s[ann[0]].referrals.get().unwrap().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["Cid"]);
    s.commit().unwrap();
}

#[test]
fn plans_are_made_once_per_model_and_options() {
    use migrate::orm::relation::{LoadOption, plan_for};
    let posts_and_tags: Vec<LoadOption> = vec![selectin(User::POSTS).then(selectin(Post::TAGS)).into()];
    let posts: Vec<LoadOption> = vec![selectin(User::POSTS).into()];
    let first = plan_for::<User>(&posts_and_tags).unwrap().unwrap();
    // The same model and options: the plan made before.
    let again = plan_for::<User>(&posts_and_tags.clone()).unwrap().unwrap();
    assert!(std::sync::Arc::ptr_eq(&first, &again));
    // Other options, or another model: a plan of their own.
    let other = plan_for::<User>(&posts).unwrap().unwrap();
    assert!(!std::sync::Arc::ptr_eq(&first, &other));
    assert_eq!((first.after[0].child.after.len(), other.after[0].child.after.len()), (1, 0));
    let for_posts = plan_for::<Post>(&[selectin(Post::TAGS).into()]).unwrap().unwrap();
    assert_eq!(for_posts.after.len(), 1);
    assert!(std::ptr::eq(for_posts.after[0].def, first.after[0].child.after[0].def));
    // An error is an error every time.
    for _ in 0..2 {
        let e = plan_for::<User>(&[selectin(Post::TAGS).into()]).unwrap_err();
        assert_eq!(e.to_string(), "the option for Post.tags does not apply to User rows");
    }
}

#[test]
fn relationship_statements_render_on_every_dialect() {
    let statements: Vec<(&str, Select)> = vec![
        (
            "join_related_many_to_many",
            select((User::NAME, Tag::NAME)).from(User::TABLE).join_related(User::POSTS).join_related(Post::TAGS),
        ),
        ("left_join_related", select(User::NAME).from(User::TABLE).left_join_related(User::PROFILE)),
        (
            "any_has_exists",
            select(User::NAME)
                .from(User::TABLE)
                .filter(User::POSTS.any(Post::TAGS.any(Tag::NAME.eq("t1"))))
                .filter(User::PROFILE.has(Profile::BIO.ne("")))
                .filter(not(User::POSTS.exists())),
        ),
        (
            "self_reference",
            select(shop::Categories::SLUG)
                .from(shop::Categories::TABLE)
                .join_related(shop::Categories::PARENT)
                .filter(shop::Categories::CHILDREN.exists()),
        ),
    ];
    let mut out = String::new();
    for name in ["postgresql", "mysql", "sqlite"] {
        let d = dialect::by_name(name).unwrap();
        for (label, statement) in &statements {
            out.push_str(&format!("{name} {label}: {}\n", statement.to_sql(d.as_ref()).unwrap()));
        }
    }
    insta::assert_snapshot!(out);
}

/// The key lists `selectin` sends: one parameter (an array on PostgreSQL,
/// a JSON array of integers on SQLite, and on MySQL/MariaDB past 4,096
/// keys); for a composite key, other key types there, a server without
/// JSON tables, and MySQL/MariaDB up to 4,096 keys, an `IN` list padded to
/// the next bucket size with the last key, so 3 keys send the text of 4.
#[test]
fn key_lists_render_on_every_dialect() {
    use migrate::dialect::query::{self as ast, Expr, StatementRef, Value};
    use std::borrow::Cow;
    let column = |name: &'static str| Expr::Column { table: Some(Cow::Borrowed("t")), name: Cow::Borrowed(name) };
    let select = |columns: Vec<Expr>, keys: Vec<Value<'static>>| ast::Select {
        from: vec![ast::Source::Table { name: Cow::Borrowed("t"), alias: None }],
        filter: Some(Expr::KeyIn { columns, keys }),
        ..ast::Select::default()
    };
    // Keys one after another, as many values each as there are columns.
    let single = select(vec![column("a")], (1..=3i64).map(Value::I64).collect());
    let composite =
        select(vec![column("a"), column("b")], (1..=3i64).flat_map(|k| [Value::I64(k), Value::I16(1)]).collect());
    let text = select(vec![column("a")], ["x", "y", "z"].map(|k| Value::Text(Cow::Borrowed(k))).to_vec());
    let mut out = String::new();
    for name in ["postgresql", "mysql", "sqlite"] {
        let d = dialect::by_name(name).unwrap();
        let padded = ast::Capabilities { key_list: ast::KeyList::Padded, ..d.latest_capabilities() };
        let cases = [
            ("single", &single, d.latest_capabilities()),
            ("composite", &composite, d.latest_capabilities()),
            ("text", &text, d.latest_capabilities()),
            ("single on an old server", &single, padded),
        ];
        for (label, s, caps) in cases {
            let rendered = ast::render(d.as_ref(), caps, StatementRef::Select(s)).unwrap();
            // What the loader binds to the memoised text: the renderer's binds.
            let Some(Expr::KeyIn { columns, keys }) = &s.filter else { panic!("{label}: no key list") };
            let mut binds = Vec::new();
            ast::key_in_binds(caps, ast::Keys { width: columns.len(), values: keys }, &mut binds);
            assert_eq!(binds, rendered.binds, "{name} {label}");
            out.push_str(&format!(
                "{name} {label}: {} -- {:?}\n",
                rendered.template.to_sql(d.as_ref()),
                rendered.binds
            ));
        }
    }
    insta::assert_snapshot!(out);
    let pg = dialect::by_name("postgresql").unwrap().latest_capabilities();
    let Some(Expr::KeyIn { keys, .. }) = &single.filter else { panic!("no key list") };
    let keys = ast::Keys { width: 1, values: keys };
    assert_eq!(ast::key_shape(pg, keys), ast::KeyShape::List);
    assert_eq!(
        ast::key_shape(ast::Capabilities { key_list: ast::KeyList::Padded, ..pg }, keys),
        ast::KeyShape::Padded(4)
    );
    assert_eq!(ast::key_shape(pg, ast::Keys { width: 1, values: &[] }), ast::KeyShape::Empty);
    // Values that do not make whole keys of the columns: refused.
    let ragged = select(vec![column("a"), column("b")], vec![Value::I64(1), Value::I16(1), Value::I64(2)]);
    let error = ast::render(dialect::by_name("postgresql").unwrap().as_ref(), pg, StatementRef::Select(&ragged));
    assert!(error.unwrap_err().to_string().contains("a list of keys does not match its columns"));
    assert_eq!(ast::key_bucket(3), 4);
    assert_eq!(ast::key_bucket(500), 500);
    assert_eq!(ast::key_bucket(501), 512);
    assert_eq!(ast::key_bucket(4096), 4096);
    // MySQL/MariaDB: an IN list up to 4,096 keys, JSON_TABLE past them.
    let d = dialect::by_name("mysql").unwrap();
    let caps = d.latest_capabilities();
    for (n, params, json) in [(1000, 1024, false), (4096, 4096, false), (4097, 1, true)] {
        let keys: Vec<Value<'static>> = (1..=n).map(Value::I64).collect();
        assert_eq!(caps.keys_per_statement(ast::Keys { width: 1, values: &keys }), if json { 4097 } else { 4096 });
        let s = select(vec![column("a")], keys);
        let rendered = ast::render(d.as_ref(), caps, StatementRef::Select(&s)).unwrap();
        assert_eq!(rendered.binds.len(), params, "{n} keys");
        assert_eq!(rendered.template.to_sql(d.as_ref()).contains("JSON_TABLE"), json, "{n} keys");
    }
    // A composite key's IN list stays within 4,096 placeholders.
    let pairs: Vec<Value<'static>> = (1..=5000).flat_map(|k| [Value::I64(k), Value::I16(1)]).collect();
    assert_eq!(caps.keys_per_statement(ast::Keys { width: 2, values: &pairs }), 2048);
}
