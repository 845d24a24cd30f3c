//! The service's data access, all of it: each function is one unit of work,
//! one `AsyncSession` per request (its connection taken at the first
//! statement, its transaction begun lazily, committed by `commit` and rolled
//! back when the session is dropped on an error). Relationships are loaded
//! with `selectin`, one statement per level (users, their posts, the posts'
//! tags), never one statement per row.

use crate::models::{Post, Tag, User};
use migrate::dialect::TransactionOptions;
use migrate::orm::StatementKind;
use migrate::orm::asynchronous::{AsyncPool, AsyncSession};
use migrate::orm::prelude::{Expression, Handle, OrmError, selectin};
use serde::Serialize;

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
    let mut session = pool.session();
    let user = session.add(User { name: name.to_string(), ..User::default() });
    for title in titles {
        let post = session.add(Post { title: title.clone(), ..Post::default() });
        session.append(user, User::POSTS, post)?;
    }
    session.commit().await?;
    let id = session[user].id;
    let mut views = users_with_posts(&mut session, |q| q.filter(User::ID.eq(id))).await?;
    views.pop().ok_or(OrmError::NoRow { statement: StatementKind::Select })
}

/// Every user with their posts and the posts' tags, in key order: three
/// statements, whatever the number of rows.
pub async fn list_users(pool: &AsyncPool) -> Result<Vec<UserView>, OrmError> {
    let mut session = pool.session();
    session.set_transaction_options(TransactionOptions::read_only());
    let views = users_with_posts(&mut session, |q| q).await?;
    session.commit().await?;
    Ok(views)
}

/// One user with their posts, or `None`.
pub async fn get_user(pool: &AsyncPool, id: i64) -> Result<Option<UserView>, OrmError> {
    let mut session = pool.session();
    session.set_transaction_options(TransactionOptions::read_only());
    let views = users_with_posts(&mut session, |q| q.filter(User::ID.eq(id))).await?;
    session.commit().await?;
    Ok(views.into_iter().next())
}

/// Tags post `post_id` with `tag` (created if new); `None` when there is no
/// such post. A post already carrying the tag is `OrmError::UniqueViolation`
/// (the association's primary key).
pub async fn add_tag(pool: &AsyncPool, post_id: i64, tag: &str) -> Result<Option<PostView>, OrmError> {
    let mut session = pool.session();
    let Some(post) = session.get::<Post>(&post_id).await? else { return Ok(None) };
    let found = session.query::<Tag>(|q| q.filter(Tag::NAME.eq(tag))).await?;
    let tag = match found.first() {
        Some(&tag) => tag,
        None => session.add(Tag { name: tag.to_string(), ..Tag::default() }),
    };
    session.link(post, Post::TAGS, tag)?;
    session.commit().await?;
    // The post takes the tags read here.
    let posts = session.query::<Post>(|q| q.filter(Post::ID.eq(post_id)).options(selectin(Post::TAGS))).await?;
    Ok(posts.first().map(|&p| post_view(&session[p])))
}

/// The users `build` selects, in key order, with their posts and the
/// posts' tags: three statements.
async fn users_with_posts(
    session: &mut AsyncSession,
    build: impl FnOnce(migrate::orm::prelude::Select) -> migrate::orm::prelude::Select,
) -> Result<Vec<UserView>, OrmError> {
    let users: Vec<Handle<User>> = session
        .query::<User>(|q| build(q).order_by(User::ID.asc()).options(selectin(User::POSTS).then(selectin(Post::TAGS))))
        .await?;
    users
        .into_iter()
        .map(|u| {
            let user = &session[u];
            let posts = user.posts.get()?.iter().map(post_view).collect();
            Ok(UserView { id: user.id, name: user.name.clone(), posts })
        })
        .collect()
}

fn post_view(post: &Post) -> PostView {
    let tags = post.tags.get().map(|tags| tags.iter().map(|t| t.name.clone()).collect()).unwrap_or_default();
    PostView { id: post.id, title: post.title.clone(), tags }
}
