//! The kinds of change the autogenerate tests (and the Alembic comparison in
//! benches/alembic_cases.rs) go through: models before and after.

use migrate::db::Backend;

/// The models every case starts from.
pub const BASE: &str = r#"
[[enums]]
name = "mood"
values = ["sad", "ok"]

[[tables]]
name = "teams"
comment = "groups of people"
columns = [
    { name = "id", type = "integer", primary_key = true, autoincrement = true },
    { name = "name", type = "varchar(50)", nullable = false },
    { name = "parent_id", type = "integer", references = "teams.id" },
]

[[tables]]
name = "users"
columns = [
    { name = "id", type = "integer", primary_key = true, autoincrement = true },
    { name = "team_id", type = "integer", references = "teams.id", on_delete = "cascade" },
    { name = "email", type = "varchar(100)", nullable = false },
    { name = "fullname", type = "text" },
    { name = "score", type = "integer", default = 0 },
    { name = "mood", type = { enum = "mood" }, nullable = false, default = "'ok'" },
]
checks = [{ expression = "score >= 0" }]
"#;

/// (case, models after, backends it applies to)
pub fn cases() -> Vec<(&'static str, String, &'static [Backend])> {
    const ALL: &[Backend] = &[Backend::Sqlite, Backend::Postgres, Backend::Mysql];
    const NOT_MYSQL: &[Backend] = &[Backend::Sqlite, Backend::Postgres];
    let edit = |from: &str, to: &str| {
        assert!(BASE.contains(from), "{from}");
        BASE.replacen(from, to, 1)
    };
    let users_end = "checks = [{ expression = \"score >= 0\" }]";
    vec![
        (
            "add a table with a foreign key",
            format!(
                "{BASE}\n[[tables]]\nname = \"posts\"\ncolumns = [\n    {{ name = \"id\", type = \"bigint\", primary_key = true }},\n    {{ name = \"user_id\", type = \"integer\", nullable = false, references = \"users.id\" }},\n    {{ name = \"body\", type = \"text\" }},\n]\n"
            ),
            ALL,
        ),
        ("add a nullable column", edit("{ name = \"fullname\", type = \"text\" },", "{ name = \"fullname\", type = \"text\" },\n    { name = \"bio\", type = \"text\" },"), ALL),
        (
            "add a not-null column with a default",
            edit("{ name = \"fullname\", type = \"text\" },", "{ name = \"fullname\", type = \"text\" },\n    { name = \"active\", type = \"boolean\", nullable = false, default = true },"),
            ALL,
        ),
        ("drop a column", edit("    { name = \"fullname\", type = \"text\" },\n", ""), ALL),
        ("widen a type", edit("{ name = \"email\", type = \"varchar(100)\"", "{ name = \"email\", type = \"varchar(200)\""), ALL),
        ("make a column nullable", edit("{ name = \"email\", type = \"varchar(100)\", nullable = false }", "{ name = \"email\", type = \"varchar(100)\" }"), ALL),
        ("change a default", edit("default = 0 }", "default = 10 }"), ALL),
        ("add an index", edit(users_end, &format!("{users_end}\nindexes = [{{ columns = [\"email\", \"team_id\"] }}]")), ALL),
        ("add a unique constraint", edit(users_end, &format!("{users_end}\nunique_constraints = [{{ columns = [\"email\"] }}]")), ALL),
        ("add a unique index", edit(users_end, &format!("{users_end}\nindexes = [{{ name = \"ux_users_email\", columns = [\"email\"], unique = true }}]")), ALL),
        ("add a partial index", edit(users_end, &format!("{users_end}\nindexes = [{{ columns = [\"email\"], where = \"score > 0\" }}]")), NOT_MYSQL),
        ("change a foreign key's on delete", edit("on_delete = \"cascade\"", "on_delete = \"set_null\""), ALL),
        ("change a check expression", edit("checks = [{ expression = \"score >= 0\" }]", "checks = [{ expression = \"score >= 1\" }]"), ALL),
        (
            "change the primary key",
            edit(users_end, &format!("{users_end}\nprimary_key = {{ columns = [\"id\", \"email\"] }}")).replacen(
                "{ name = \"id\", type = \"integer\", primary_key = true, autoincrement = true },\n    { name = \"team_id\"",
                "{ name = \"id\", type = \"integer\", nullable = false, autoincrement = true },\n    { name = \"team_id\"",
                1,
            ),
            // MySQL refuses to drop a primary key holding an AUTO_INCREMENT column (docs/databases.md).
            &[Backend::Postgres],
        ),
        ("add an enum value", edit("values = [\"sad\", \"ok\"]", "values = [\"sad\", \"meh\", \"ok\"]"), ALL),
        ("change a comment", edit("comment = \"groups of people\"", "comment = \"teams of people\""), &[Backend::Postgres, Backend::Mysql]),
        ("rename a column", edit("{ name = \"fullname\", type = \"text\" }", "{ name = \"full_name\", type = \"text\", renamed_from = \"fullname\" }"), ALL),
        ("rename a table", edit("name = \"teams\"\n", "name = \"groups\"\nrenamed_from = \"teams\"\n").replace("teams.id", "groups.id"), ALL),
    ]
}
