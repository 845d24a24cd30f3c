//! An application that carries its migrations in its binary: on startup it
//! upgrades the database (`DATABASE_URL`, or the first argument) to the
//! latest revision, refuses to run if the database does not match the
//! models it was compiled with, then uses them through the ORM.

mod models;

use migrate::orm::{Pool, PoolOptions};
use migrate::runtime::Event;
use migrate::script::EmbeddedMigrations;
use migrate::{Migrator, embed_migrations};
use models::{Post, User};
use std::process::ExitCode;

/// Every revision file of `migrations/versions`, compiled in.
const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

fn main() -> ExitCode {
    let Some(url) = std::env::args().nth(1).or_else(|| std::env::var("DATABASE_URL").ok()) else {
        eprintln!("usage: embedded DATABASE_URL (or set DATABASE_URL)");
        return ExitCode::from(2);
    };
    match start(&url) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn start(url: &str) -> Result<(), String> {
    let mut migrator = Migrator::embedded(MIGRATIONS).url(url).on_event(|event| {
        if let Event::Finished { step, elapsed, .. } = event {
            println!("applied {} {} ({} ms)", step.revision, step.message, elapsed.as_millis());
        }
    });
    let report = migrator.upgrade("heads").map_err(|e| e.to_string())?;
    println!("database at {} ({} revisions applied now)", report.heads.join(", "), report.steps.len());
    // The startup guard: the schema is the one these models describe.
    let drift = migrator.check_models::<(User, Post)>().map_err(|e| e.to_string())?;
    if !drift.in_sync {
        let ops: Vec<String> = drift.diff.upgrade.iter().map(|op| op.label()).collect();
        return Err(format!("the database does not match the models: it needs {}", ops.join(", ")));
    }
    println!("models in sync");

    let pool = Pool::open(url, PoolOptions::default()).map_err(|e| e.to_string())?;
    let mut session = pool.session();
    let ann = session.add(User { email: format!("ann{}@example.com", std::process::id()), ..User::default() });
    session.flush().map_err(|e| e.to_string())?;
    let user_id = session[ann].id;
    session.add(Post { user_id, title: "hello".into(), ..Post::default() });
    session.commit().map_err(|e| e.to_string())?;
    println!("wrote a user and a post");
    Ok(())
}
