//! A JSON web service over the blog models, on axum and the async ORM.
//!
//! On startup it applies the blog's revisions (compiled into the binary with
//! `embed_migrations!`, applied by `AsyncMigrator`), then serves:
//!
//! | request | answer |
//! | --- | --- |
//! | `POST /users` `{"name": "ann", "posts": ["hello"]}` | 201 and the user with their posts; 409 if the name is taken |
//! | `GET /users` | 200 and every user with posts and tags (three statements, whatever the rows) |
//! | `GET /users/{id}` | 200 and the user; 404 if there is none |
//! | `POST /posts/{id}/tags` `{"name": "rust"}` | 201 and the post with its tags; 404 without the post, 409 if already tagged |
//!
//! Malformed JSON, a missing field or a bad path is 400. Every error body is
//! `{"error": "..."}`. Each request is one unit of work: one pooled
//! connection, one transaction (see `store`).

#[path = "../../blog/models.rs"]
pub mod models;
pub mod store;

use axum::Json;
use axum::Router;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use migrate::AsyncMigrator;
use migrate::orm::PoolOptions;
use migrate::orm::asynchronous::AsyncPool;
use migrate::orm::prelude::OrmError;
use migrate::script::EmbeddedMigrations;
use serde::Deserialize;
use store::{PostView, UserView};

/// The blog's revisions (`examples/blog/migrations/versions`), compiled in.
pub const MIGRATIONS: EmbeddedMigrations = migrate::embed_migrations!("../blog/migrations");

/// Longest user name the `users.name` column holds.
const MAX_NAME: usize = 100;
/// Longest post title the `posts.title` column holds.
const MAX_TITLE: usize = 200;
/// Longest tag name the `tags.name` column holds.
const MAX_TAG: usize = 50;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Applying the migrations failed.
    #[error("migrations: {0}")]
    Migrate(#[from] migrate::Error),
    /// Opening the pool failed.
    #[error("pool: {0}")]
    Pool(#[from] OrmError),
}

/// Upgrades the database at `url` to the latest revision, then opens the
/// async pool the handlers share.
pub async fn start(url: &str, options: PoolOptions) -> Result<AsyncPool, StartError> {
    AsyncMigrator::embedded(MIGRATIONS).url(url).upgrade("heads").await?;
    Ok(AsyncPool::open(url, options).await?)
}

/// The service's routes over `pool`.
pub fn router(pool: AsyncPool) -> Router {
    Router::new()
        .route("/users", post(create_user).get(list_users))
        .route("/users/{id}", get(get_user))
        .route("/posts/{id}/tags", post(add_tag))
        .with_state(pool)
}

/// A request's failure, as an HTTP status and a JSON `{"error": ...}`.
#[derive(Debug)]
pub enum ApiError {
    /// The request itself is wrong (JSON, field, path): 400.
    BadRequest(String),
    /// The row the path names does not exist: 404.
    NotFound(&'static str),
    /// The database refused or failed: 409 for a unique violation, 503 when
    /// the pool had no connection in time, 500 otherwise.
    Orm(OrmError),
}

impl From<OrmError> for ApiError {
    fn from(e: OrmError) -> Self {
        ApiError::Orm(e)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        ApiError::BadRequest(e.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(e: PathRejection) -> Self {
        ApiError::BadRequest(e.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ApiError::BadRequest(message) => (StatusCode::BAD_REQUEST, message),
            ApiError::NotFound(what) => (StatusCode::NOT_FOUND, format!("no such {what}")),
            ApiError::Orm(e @ OrmError::UniqueViolation(_)) => (StatusCode::CONFLICT, e.to_string()),
            ApiError::Orm(e @ OrmError::PoolTimeout { .. }) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            ApiError::Orm(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        };
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}

/// The body of `POST /users`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// The unique name.
    pub name: String,
    /// Titles of posts to create with the user.
    #[serde(default)]
    pub posts: Vec<String>,
}

/// The body of `POST /posts/{id}/tags`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTag {
    /// The tag's name.
    pub name: String,
}

fn check_length(what: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.is_empty() || value.chars().count() > max {
        return Err(ApiError::BadRequest(format!("{what} must have 1 to {max} characters")));
    }
    Ok(())
}

async fn create_user(
    State(pool): State<AsyncPool>,
    body: Result<Json<NewUser>, JsonRejection>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let Json(new) = body?;
    check_length("name", &new.name, MAX_NAME)?;
    for title in &new.posts {
        check_length("a post title", title, MAX_TITLE)?;
    }
    let user = store::create_user(&pool, &new.name, &new.posts).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

async fn list_users(State(pool): State<AsyncPool>) -> Result<Json<Vec<UserView>>, ApiError> {
    Ok(Json(store::list_users(&pool).await?))
}

async fn get_user(
    State(pool): State<AsyncPool>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Json<UserView>, ApiError> {
    let Path(id) = id?;
    store::get_user(&pool, id).await?.map(Json).ok_or(ApiError::NotFound("user"))
}

async fn add_tag(
    State(pool): State<AsyncPool>,
    id: Result<Path<i64>, PathRejection>,
    body: Result<Json<NewTag>, JsonRejection>,
) -> Result<(StatusCode, Json<PostView>), ApiError> {
    let Path(id) = id?;
    let Json(tag) = body?;
    check_length("a tag name", &tag.name, MAX_TAG)?;
    let post = store::add_tag(&pool, id, &tag.name).await?.ok_or(ApiError::NotFound("post"))?;
    Ok((StatusCode::CREATED, Json(post)))
}
