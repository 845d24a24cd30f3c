//! A blog on the embedded ORM: users with posts (one-to-many) and tags
//! (many-to-many through `post_tags`). The tables come from the example's
//! `migrate` revisions (`examples/blog/migrations`), the rows from a
//! session, and one query loads users, their posts and the posts' tags
//! eagerly, in one statement per level.
//!
//! ```text
//! cargo run --example blog                                   # SQLite, in a temporary file
//! DATABASE_URL=postgres://postgres@127.0.0.1/test cargo run --example blog
//! ```

use migrate::command::{self, RunOptions};
use migrate::config::Config;
use migrate::db::DatabaseUrl;
use migrate::orm::prelude::*;
use std::path::Path;

#[path = "blog/models.rs"]
mod models;
pub use models::{Post, PostTag, Tag, User};

/// What a run found.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// One line per user: name, then each post with its tags.
    pub lines: Vec<String>,
    /// The statements the eager query sent.
    pub statements: usize,
}

/// Applies the example's revisions to `url`, seeds it, and reads it back
/// with eager loading.
pub fn run(url: &str) -> Result<Report, Box<dyn std::error::Error>> {
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/blog/migrate.toml");
    let config = Config::parse(&std::fs::read_to_string(&project)?, &project)?;
    let database = config.database(None)?;
    command::upgrade(&DatabaseUrl::parse(url)?, &database, "head", &RunOptions::default(), &mut |_| {})?;

    let pool = Pool::open(url, PoolOptions::default())?;
    let mut s = pool.session();
    let tags = s.add_all(["rust", "sql", "orm"].map(|name| Tag { name: name.into(), ..Tag::default() }));
    let users = s.add_all(["ann", "bob", "cid"].map(|name| User { name: name.into(), ..User::default() }));
    s.flush()?; // the keys are filled in
    for (u, user) in users.iter().enumerate() {
        for p in 0..3 {
            let user_id = s[*user].id;
            let post = s.add(Post { user_id, title: format!("{} #{p}", s[*user].name), ..Post::default() });
            s.flush()?;
            let post_id = s[post].id;
            for tag in tags.iter().take((u + p) % 3 + 1) {
                let tag_id = s[*tag].id;
                s.add(PostTag { post_id, tag_id });
            }
        }
    }
    s.commit()?;

    let count: Vec<i64> = s.execute(&select(count_star()).from(User::TABLE))?;
    let before = s.statement_count();
    let loaded =
        s.query::<User>(|q| q.order_by(User::NAME.asc()).options(selectin(User::POSTS).then(selectin(Post::TAGS))))?;
    let statements = s.statement_count() - before;
    let mut lines = vec![format!("{} users", count.first().copied().unwrap_or_default())];
    for user in loaded {
        let user = &s[user];
        let posts: Vec<String> = user
            .posts
            .get()?
            .iter()
            .map(|post| {
                let tags: Result<Vec<&str>, _> = post.tags.get().map(|t| t.iter().map(|t| t.name.as_str()).collect());
                tags.map(|tags| format!("{} [{}]", post.title, tags.join(", ")))
            })
            .collect::<Result<_, _>>()?;
        lines.push(format!("{}: {}", user.name, posts.join("; ")));
    }
    s.commit()?;
    Ok(Report { lines, statements })
}

fn main() {
    let dir = tempfile_dir();
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| format!("sqlite://{}", dir.join("blog.db").display()));
    match run(&url) {
        Ok(report) => {
            for line in &report.lines {
                println!("{line}");
            }
            println!("users, posts and tags loaded in {} statements", report.statements);
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

/// A fresh folder for the SQLite file.
fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("migrate-blog-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::create_dir_all(&dir);
    dir
}
