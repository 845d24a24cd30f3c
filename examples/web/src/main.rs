//! The blog's JSON service: `DATABASE_URL` (default `sqlite://web.db`) is
//! upgraded on startup, then the API listens on `ADDR` (default
//! `127.0.0.1:3000`).
//!
//! ```text
//! cargo run -p migrate-example-web
//! curl -s -XPOST localhost:3000/users -H 'content-type: application/json' -d '{"name":"ann","posts":["hello"]}'
//! curl -s localhost:3000/users
//! ```

use migrate::orm::PoolOptions;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite://web.db".into());
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let pool = match migrate_example_web::start(&url, PoolOptions::default()).await {
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
    match axum::serve(listener, migrate_example_web::router(pool)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
