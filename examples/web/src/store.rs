//! The service's data access, all of it: each function is one unit of work
//! (one pooled connection, one transaction, committed on success and rolled
//! back on error) written with the async Core statements. Relationships are
//! loaded level by level, one statement per level (users, their posts, the
//! posts' tags), never one statement per row.

use crate::models::{Post, PostTag, Tag, User};
use migrate::dialect::TransactionOptions;
use migrate::orm::StatementKind;
use migrate::orm::asynchronous::{AsyncConnection, AsyncPool, exec, transaction};
use migrate::orm::prelude::{Expression, OrmError, Row, col, insert_into, select};
use serde::Serialize;
use std::collections::HashMap;

/// A user with their posts, as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserView {
    /// The user's key.
    pub id: i64,
    /// The user's unique name.
    pub name: String,
    /// The user's posts, oldest first.
    pub posts: Vec<PostView>,
}

/// A post with its tags, as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostView {
    /// The post's key.
    pub id: i64,
    /// The post's title.
    pub title: String,
    /// The names of the post's tags, in name order.
    pub tags: Vec<String>,
}

/// Creates a user and their posts in one transaction. A name already taken
/// is `OrmError::UniqueViolation`.
pub async fn create_user(pool: &AsyncPool, name: &str, titles: &[String]) -> Result<UserView, OrmError> {
    let mut conn = pool.get().await?;
    transaction::begin(&mut conn, &TransactionOptions::default()).await?;
    let work = async {
        let conn: &mut AsyncConnection = &mut conn;
        exec::execute(conn, &insert_into(User::TABLE).row(Row::new().set(User::NAME, name))).await?;
        // The key, read back by the unique name (portable: MariaDB has no
        // INSERT ... RETURNING).
        let users: Vec<User> =
            exec::fetch(conn, &select(User::ALL).from(User::TABLE).filter(User::NAME.eq(name))).await?;
        let user = users.into_iter().next().ok_or(OrmError::NoRow { statement: StatementKind::Select })?;
        if !titles.is_empty() {
            let rows = titles.iter().fold(insert_into(Post::TABLE), |insert, title| {
                insert.row(Row::new().set(Post::USER_ID, user.id).set(Post::TITLE, title.as_str()))
            });
            exec::execute(conn, &rows).await?;
        }
        let mut views = load_users(conn, vec![user]).await?;
        views.pop().ok_or(OrmError::NoRow { statement: StatementKind::Select })
    };
    let result = work.await;
    finish(&mut conn, result).await
}

/// Every user with their posts and the posts' tags, in key order: three
/// statements, whatever the number of rows.
pub async fn list_users(pool: &AsyncPool) -> Result<Vec<UserView>, OrmError> {
    let mut conn = pool.get().await?;
    transaction::begin(&mut conn, &TransactionOptions::read_only()).await?;
    let work = async {
        let conn: &mut AsyncConnection = &mut conn;
        let users = exec::fetch(conn, &select(User::ALL).from(User::TABLE).order_by(User::ID.asc())).await?;
        load_users(conn, users).await
    };
    let result = work.await;
    finish(&mut conn, result).await
}

/// One user with their posts, or `None`.
pub async fn get_user(pool: &AsyncPool, id: i64) -> Result<Option<UserView>, OrmError> {
    let mut conn = pool.get().await?;
    transaction::begin(&mut conn, &TransactionOptions::read_only()).await?;
    let work = async {
        let conn: &mut AsyncConnection = &mut conn;
        let users = exec::fetch(conn, &select(User::ALL).from(User::TABLE).filter(User::ID.eq(id))).await?;
        Ok(load_users(conn, users).await?.into_iter().next())
    };
    let result = work.await;
    finish(&mut conn, result).await
}

/// Tags post `post_id` with `tag` (created if new); `None` when there is no
/// such post. A post already carrying the tag is `OrmError::UniqueViolation`
/// (the association's primary key).
pub async fn add_tag(pool: &AsyncPool, post_id: i64, tag: &str) -> Result<Option<PostView>, OrmError> {
    let mut conn = pool.get().await?;
    transaction::begin(&mut conn, &TransactionOptions::default()).await?;
    let work = async {
        let conn: &mut AsyncConnection = &mut conn;
        let post: Option<Post> =
            exec::fetch_optional(conn, &select(Post::ALL).from(Post::TABLE).filter(Post::ID.eq(post_id))).await?;
        let Some(post) = post else { return Ok(None) };
        let new_tag =
            insert_into(Tag::TABLE).row(Row::new().set(Tag::NAME, tag)).on_conflict_do_nothing(&[col(Tag::NAME)]);
        exec::execute(conn, &new_tag).await?;
        let tag: Option<Tag> =
            exec::fetch_optional(conn, &select(Tag::ALL).from(Tag::TABLE).filter(Tag::NAME.eq(tag))).await?;
        let Some(tag) = tag else { return Ok(None) };
        let link = Row::new().set(PostTag::POST_ID, post.id).set(PostTag::TAG_ID, tag.id);
        exec::execute(conn, &insert_into(PostTag::TABLE).row(link)).await?;
        let tags = load_tags(conn, &[post.id]).await?;
        Ok(Some(PostView { id: post.id, title: post.title, tags: tags.get(&post.id).cloned().unwrap_or_default() }))
    };
    let result = work.await;
    finish(&mut conn, result).await
}

/// Commits on success, rolls back on error; the work's own error wins over
/// a failed rollback (the pool discards a connection left in a transaction).
async fn finish<T>(conn: &mut AsyncConnection, result: Result<T, OrmError>) -> Result<T, OrmError> {
    match result {
        Ok(value) => {
            transaction::commit(conn).await?;
            Ok(value)
        }
        Err(e) => {
            let _ = transaction::rollback(conn).await;
            Err(e)
        }
    }
}

/// The posts of `users` (one statement) and their tags (one more).
async fn load_users(conn: &mut AsyncConnection, users: Vec<User>) -> Result<Vec<UserView>, OrmError> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
    let posts: Vec<Post> = exec::fetch(
        conn,
        &select(Post::ALL).from(Post::TABLE).filter(Post::USER_ID.in_list(ids)).order_by(Post::ID.asc()),
    )
    .await?;
    let post_ids: Vec<i64> = posts.iter().map(|p| p.id).collect();
    let mut tags = load_tags(conn, &post_ids).await?;
    let mut by_user: HashMap<i64, Vec<PostView>> = HashMap::new();
    for post in posts {
        let view = PostView { id: post.id, tags: tags.remove(&post.id).unwrap_or_default(), title: post.title };
        by_user.entry(post.user_id).or_default().push(view);
    }
    Ok(users
        .into_iter()
        .map(|u| UserView { id: u.id, posts: by_user.remove(&u.id).unwrap_or_default(), name: u.name })
        .collect())
}

/// The tag names of each post of `post_ids`, in name order: one statement.
async fn load_tags(conn: &mut AsyncConnection, post_ids: &[i64]) -> Result<HashMap<i64, Vec<String>>, OrmError> {
    let mut tags: HashMap<i64, Vec<String>> = HashMap::new();
    if post_ids.is_empty() {
        return Ok(tags);
    }
    let query = select((PostTag::POST_ID, Tag::NAME))
        .from(PostTag::TABLE)
        .join(Tag::TABLE, PostTag::TAG_ID.eq(Tag::ID))
        .filter(PostTag::POST_ID.in_list(post_ids.iter().copied()))
        .order_by(Tag::NAME.asc());
    let rows: Vec<(i64, String)> = exec::fetch(conn, &query).await?;
    for (post_id, name) in rows {
        tags.entry(post_id).or_default().push(name);
    }
    Ok(tags)
}
