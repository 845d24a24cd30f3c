//! The benchmark's baseline (`bench/run.sh web`): `GET /users/{id}` of the
//! service written with raw diesel-async on PostgreSQL, with the same
//! transaction (read-only), the same three statements and the same JSON.
//! `DATABASE_URL` must be a database the service has already migrated.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use diesel::prelude::*;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use migrate_example_web::store::{PostView, UserView};
use std::collections::HashMap;
use std::process::ExitCode;

diesel::table! { users (id) { id -> BigInt, name -> Varchar, } }
diesel::table! { posts (id) { id -> BigInt, user_id -> BigInt, title -> Varchar, } }
diesel::table! { tags (id) { id -> Integer, name -> Varchar, } }
diesel::table! { post_tags (post_id, tag_id) { post_id -> BigInt, tag_id -> Integer, } }
diesel::joinable!(post_tags -> tags (tag_id));
diesel::allow_tables_to_appear_in_same_query!(post_tags, tags);

type Db = Pool<AsyncPgConnection>;

async fn get_user(State(pool): State<Db>, Path(id): Path<i64>) -> Response {
    let Ok(mut conn) = pool.get().await else { return StatusCode::SERVICE_UNAVAILABLE.into_response() };
    let result = conn
        .build_transaction()
        .read_only()
        .run(async move |conn| {
            let user: Option<(i64, String)> =
                users::table.filter(users::id.eq(id)).select((users::id, users::name)).first(conn).await.optional()?;
            let Some((id, name)) = user else { return Ok::<_, diesel::result::Error>(None) };
            let rows: Vec<(i64, String)> = posts::table
                .filter(posts::user_id.eq_any(vec![id]))
                .order(posts::id.asc())
                .select((posts::id, posts::title))
                .load(conn)
                .await?;
            let ids: Vec<i64> = rows.iter().map(|p| p.0).collect();
            let mut tags: HashMap<i64, Vec<String>> = HashMap::new();
            if !ids.is_empty() {
                let pairs: Vec<(i64, String)> = post_tags::table
                    .inner_join(tags::table)
                    .filter(post_tags::post_id.eq_any(ids))
                    .order(tags::name.asc())
                    .select((post_tags::post_id, tags::name))
                    .load(conn)
                    .await?;
                for (post, tag) in pairs {
                    tags.entry(post).or_default().push(tag);
                }
            }
            let posts = rows
                .into_iter()
                .map(|(id, title)| PostView { id, title, tags: tags.remove(&id).unwrap_or_default() })
                .collect();
            Ok(Some(UserView { id, name, posts }))
        })
        .await;
    match result {
        Ok(Some(user)) => Json(user).into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("error: set DATABASE_URL to a PostgreSQL database the service has migrated");
        return ExitCode::from(2);
    };
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3001".into());
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(url);
    let pool = match Pool::builder(manager).max_size(10).build() {
        Ok(pool) => pool,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("error: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {addr}");
    let app = Router::new().route("/users/{id}", get(get_user)).with_state(pool);
    match axum::serve(listener, app).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
