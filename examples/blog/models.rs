//! The blog's models: users with posts (one-to-many), posts with tags
//! through `post_tags` (many-to-many). Used by `examples/blog.rs` and by the
//! web service (`examples/web`); the revisions in `examples/blog/migrations`
//! create their tables (`models = ["models.rs"]` in `migrate.toml`).

use migrate::orm::prelude::*;

/// A person who writes.
#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "users")]
pub struct User {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(max_length = 100, unique)]
    pub name: String,
    #[model(has_many(Post, foreign_key = "user_id", back_populates = "author", order_by = "id"))]
    pub posts: Many<Post>,
}

/// A post by one user, with tags.
#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "posts")]
pub struct Post {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(references = "users.id", on_delete = "cascade", index)]
    pub user_id: i64,
    #[model(max_length = 200)]
    pub title: String,
    #[model(belongs_to(User, back_populates = "posts"))]
    pub author: One<User>,
    #[model(many_to_many(Tag, through = "PostTag", back_populates = "posts", order_by = "name"))]
    pub tags: Many<Tag>,
}

/// A tag, on any number of posts.
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

/// The association of posts and tags.
#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "post_tags")]
pub struct PostTag {
    #[model(primary_key, references = "posts.id", on_delete = "cascade")]
    pub post_id: i64,
    #[model(primary_key, references = "tags.id", on_delete = "cascade")]
    pub tag_id: i32,
}
