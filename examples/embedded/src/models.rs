//! The application's models: the ORM reads and writes them, and
//! `migrate revision --autogenerate` (with this folder's migrate.toml)
//! writes the revisions that create them.

use migrate::models::Model;

#[derive(Debug, Clone, Default, Model)]
#[model(table = "users")]
pub struct User {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(max_length = 255, unique)]
    pub email: String,
}

#[derive(Debug, Clone, Default, Model)]
#[model(table = "posts")]
pub struct Post {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(references = "users.id", index)]
    pub user_id: i64,
    #[model(max_length = 200)]
    pub title: String,
}
