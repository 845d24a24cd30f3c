//! The blog's JSON service: `DATABASE_URL` (default `sqlite://web.db`) is
//! upgraded on startup, then the API listens on `ADDR` (default
//! `127.0.0.1:3000`). `HEALTH_CHECK_IDLE_MS` sets the pool's
//! `health_check_idle` (default 500; 0 pings every connection handed out).
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
    let mut options = PoolOptions::default();
    if let Ok(ms) = std::env::var("HEALTH_CHECK_IDLE_MS") {
        let Ok(ms) = ms.parse() else {
            eprintln!("error: HEALTH_CHECK_IDLE_MS must be a number of milliseconds, not {ms:?}");
            return ExitCode::from(2);
        };
        options.health_check_idle = std::time::Duration::from_millis(ms);
    }
    let pool = match migrate_example_web::start(&url, options).await {
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
