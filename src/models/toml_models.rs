//! TOML models.
//!
//! ```toml
//! [[enums]]
//! name = "mood"
//! values = ["sad", "ok", "happy"]
//!
//! [[tables]]
//! name = "users"
//! comment = "people who sign in"
//! columns = [
//!     { name = "id", type = "bigint", primary_key = true, autoincrement = true },
//!     { name = "email", type = "varchar(255)", nullable = false, unique = true },
//!     { name = "mood", type = { enum = "mood" }, default = "'ok'" },
//!     { name = "team_id", type = "integer", references = "teams.id", on_delete = "cascade" },
//!     { name = "full_name", type = "text", renamed_from = "name" },
//! ]
//! indexes = [{ name = "ix_users_lower_email", keys = [{ expression = "lower(email)" }], unique = true }]
//! checks = [{ expression = "length(email) > 3" }]
//! ```

use super::{ModelError, Models};
use crate::schema::{
    Check, Column, ColumnType, DefaultValue, EnumType, ForeignKey, ForeignKeyAction, Index, IndexKey, PrimaryKey,
    Schema, Table, UniqueConstraint,
};
use serde::Deserialize;
use std::path::Path;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    enums: Vec<EnumType>,
    #[serde(default)]
    tables: Vec<Spanned<TableSpec>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableSpec {
    name: String,
    #[serde(default)]
    renamed_from: Option<String>,
    #[serde(default)]
    comment: Option<String>,
    columns: Vec<Spanned<ColumnSpec>>,
    #[serde(default)]
    primary_key: Option<PrimaryKey>,
    #[serde(default)]
    indexes: Vec<IndexSpec>,
    #[serde(default)]
    unique_constraints: Vec<UniqueConstraint>,
    #[serde(default)]
    foreign_keys: Vec<ForeignKey>,
    #[serde(default)]
    checks: Vec<Check>,
    #[serde(default)]
    relations: Vec<Spanned<super::relations::RelationSpec>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnSpec {
    name: String,
    #[serde(rename = "type")]
    ty: toml::Value,
    #[serde(default)]
    nullable: Option<bool>,
    #[serde(default)]
    default: Option<DefaultValue>,
    #[serde(default)]
    primary_key: bool,
    #[serde(default)]
    autoincrement: bool,
    /// The ORM's optimistic-concurrency version counter.
    #[serde(default)]
    version: bool,
    #[serde(default)]
    unique: bool,
    #[serde(default)]
    index: bool,
    #[serde(default)]
    references: Option<String>,
    #[serde(default)]
    on_delete: Option<ForeignKeyAction>,
    #[serde(default)]
    on_update: Option<ForeignKeyAction>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    renamed_from: Option<String>,
}

/// An index: `keys` (columns or expressions) or plain `columns`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IndexSpec {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    keys: Vec<IndexKey>,
    #[serde(default)]
    columns: Vec<String>,
    #[serde(default)]
    unique: bool,
    #[serde(default, rename = "where")]
    predicate: Option<String>,
}

/// Parses one TOML model file (`path` names it in errors, with the line).
pub fn parse_toml(path: &Path, text: &str) -> Result<Models, ModelError> {
    let line_of = |offset: usize| format!(":{}", text[..offset.min(text.len())].matches('\n').count() + 1);
    let invalid = |offset: usize, message: String| ModelError::Invalid {
        path: path.display().to_string(),
        line: line_of(offset),
        message,
    };
    let file: File = toml::from_str(text).map_err(|e| {
        let (at, message) = crate::toml_error::describe(&e, text);
        ModelError::Invalid {
            path: path.display().to_string(),
            line: at.map(|(line, _)| format!(":{line}")).unwrap_or_default(),
            message,
        }
    })?;
    let mut models = Models::default();
    // Tables come in file order: count lines from one to the next.
    let mut counted = (0, 1);
    for spec in file.tables {
        let at = spec.span().start;
        counted = (at, counted.1 + text[counted.0.min(text.len())..at.min(text.len())].matches('\n').count());
        let spec = spec.into_inner();
        let mut table = Table::new(&spec.name);
        table.comment = spec.comment;
        if let Some(old) = spec.renamed_from {
            models.renamed_tables.insert(spec.name.clone(), old);
        }
        let mut pk_columns = Vec::new();
        for column in spec.columns {
            let at = column.span().start;
            let c = column.into_inner();
            if table.column(&c.name).is_some() {
                return Err(invalid(at, format!("table `{}`: column `{}` is declared twice", spec.name, c.name)));
            }
            let ty = column_type(&c.ty, &file.enums).map_err(|m| invalid(at, format!("column `{}`: {m}", c.name)))?;
            let mut column = Column::new(&c.name, ty);
            column.nullable = c.nullable.unwrap_or(!c.primary_key);
            column.default = c.default;
            column.autoincrement = c.autoincrement;
            column.comment = c.comment;
            if c.version {
                let integer = matches!(column.ty, ColumnType::Smallint | ColumnType::Integer | ColumnType::Bigint);
                if !integer || column.nullable || c.primary_key {
                    let message = format!(
                        "table `{}`: column `{}`: version = true needs a non-null integer column outside the primary key",
                        spec.name, c.name
                    );
                    return Err(invalid(at, message));
                }
                models.version_columns.insert((spec.name.clone(), c.name.clone()));
            }
            if c.primary_key {
                pk_columns.push(c.name.clone());
            }
            if c.unique {
                table.unique_constraints.push(UniqueConstraint { name: None, columns: vec![c.name.clone()] });
            }
            if c.index {
                table.indexes.push(Index {
                    name: format!("ix_{}_{}", spec.name, c.name),
                    keys: vec![IndexKey::Column(c.name.clone())],
                    unique: false,
                    predicate: None,
                });
            }
            if let Some(reference) = &c.references {
                let (referred_table, referred_column) = reference.rsplit_once('.').ok_or_else(|| {
                    invalid(at, format!("column `{}`: references = \"{reference}\" should be \"table.column\"", c.name))
                })?;
                table.foreign_keys.push(ForeignKey {
                    name: None,
                    columns: vec![c.name.clone()],
                    referred_table: referred_table.into(),
                    referred_columns: vec![referred_column.into()],
                    on_delete: c.on_delete,
                    on_update: c.on_update,
                });
            }
            if let Some(old) = c.renamed_from {
                models.renamed_columns.insert((spec.name.clone(), c.name.clone()), old);
            }
            table.columns.push(column);
        }
        table.primary_key = match (spec.primary_key, pk_columns.is_empty()) {
            (Some(_), false) => {
                return Err(invalid(at, format!("table `{}`: primary key declared twice", spec.name)));
            }
            (Some(pk), true) => Some(pk),
            (None, false) => Some(PrimaryKey { name: None, columns: pk_columns }),
            (None, true) => None,
        };
        // A primary key's columns are NOT NULL on every backend.
        let key: Vec<String> = table.primary_key.iter().flat_map(|pk| pk.columns.clone()).collect();
        for column in table.columns.iter_mut().filter(|c| key.contains(&c.name)) {
            column.nullable = false;
        }
        for index in spec.indexes {
            let keys = if index.keys.is_empty() {
                index.columns.iter().cloned().map(IndexKey::Column).collect()
            } else {
                index.keys
            };
            if keys.is_empty() {
                return Err(invalid(at, format!("table `{}`: an index has neither keys nor columns", spec.name)));
            }
            let name = index.name.unwrap_or_else(|| {
                let parts: Vec<String> = keys
                    .iter()
                    .map(|k| match k {
                        IndexKey::Column(c) => c.clone(),
                        IndexKey::Expression(_) => "expr".into(),
                    })
                    .collect();
                format!("ix_{}_{}", spec.name, parts.join("_"))
            });
            table.indexes.push(Index { name, keys, unique: index.unique, predicate: index.predicate });
        }
        table.unique_constraints.extend(spec.unique_constraints);
        table.foreign_keys.extend(spec.foreign_keys);
        table.checks.extend(spec.checks);
        // Every column a key, index or constraint names must exist.
        let known = |c: &String| table.column(c).is_some();
        let named = table
            .primary_key
            .iter()
            .flat_map(|pk| &pk.columns)
            .chain(table.unique_constraints.iter().flat_map(|u| &u.columns))
            .chain(table.foreign_keys.iter().flat_map(|f| &f.columns))
            .chain(table.indexes.iter().flat_map(|i| &i.keys).filter_map(|k| match k {
                IndexKey::Column(c) => Some(c),
                IndexKey::Expression(_) => None,
            }));
        if let Some(missing) = named.into_iter().find(|c| !known(c)) {
            return Err(invalid(at, format!("table `{}`: no column `{missing}`", spec.name)));
        }
        if models.schema.table(&table.name).is_some() {
            return Err(invalid(at, format!("table `{}` is declared twice", spec.name)));
        }
        for relation in spec.relations {
            let at = relation.span().start;
            models.relations.push(relation.into_inner().into_relation(&spec.name).map_err(|m| invalid(at, m))?);
        }
        models.lines.insert(table.name.clone(), counted.1);
        models.schema.tables.push(table);
    }
    models.schema.enums = file.enums;
    Ok(models)
}

/// `schema` as a TOML models file (`[[enums]]`, then one `[[tables]]` block
/// per table, in the schema's order), which [`parse_toml`] reads back as the
/// same schema: every constraint and index with its name, every column with
/// its nullability. Fails, naming the object, for a value TOML cannot hold.
pub fn write_toml(schema: &Schema, header: &str) -> Result<String, ModelError> {
    let mut out = String::from(header);
    let blocks = schema
        .enums
        .iter()
        .map(|e| ("enums", format!("enum `{}`", e.name), toml::Table::try_from(e)))
        .chain(schema.tables.iter().map(|t| ("tables", format!("table `{}`", t.name), toml::Table::try_from(t))));
    for (section, object, table) in blocks {
        let table = table.map_err(|e| ModelError::NotExpressible { object, message: e.to_string() })?;
        out.push('\n');
        out.push_str(&crate::toml_layout::section_block(section, &table));
    }
    Ok(out)
}

/// A column type: a portable name, `{ enum = "name" }` (a declared enum, or
/// with its `values`), or `{ raw = "..." }`.
fn column_type(value: &toml::Value, enums: &[EnumType]) -> Result<ColumnType, String> {
    match value {
        toml::Value::String(name) => name.parse().map_err(|e: crate::schema::UnknownType| e.to_string()),
        toml::Value::Table(t) => {
            let valid: &[&str] = if t.contains_key("raw") { &["raw"] } else { &["enum", "values"] };
            if let Some(key) = t.keys().find(|k| !valid.contains(&k.as_str())) {
                return Err(crate::toml_error::unknown_key(key, valid));
            }
            if let Some(raw) = t.get("raw").and_then(|r| r.as_str()) {
                return Ok(ColumnType::Raw { sql: raw.into() });
            }
            let Some(name) = t.get("enum").and_then(|e| e.as_str()) else {
                return Err("type must be a name, { enum = \"...\" } or { raw = \"...\" }".into());
            };
            let declared = enums.iter().find(|e| e.name == name);
            let values = match (t.get("values").and_then(|v| v.as_array()), declared) {
                (Some(values), _) => values.iter().filter_map(|v| v.as_str().map(String::from)).collect(),
                (None, Some(e)) => e.values.clone(),
                (None, None) => return Err(format!("enum `{name}` is not declared in this file's [[enums]]")),
            };
            Ok(ColumnType::Enum { name: name.into(), values })
        }
        _ => Err("type must be a name, { enum = \"...\" } or { raw = \"...\" }".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODELS: &str = r#"
[[enums]]
name = "mood"
values = ["sad", "ok"]

[[tables]]
name = "teams"
columns = [{ name = "id", type = "integer", primary_key = true, autoincrement = true }]

[[tables]]
name = "users"
renamed_from = "people"
columns = [
    { name = "id", type = "bigint", primary_key = true },
    { name = "email", type = "varchar(255)", nullable = false, unique = true },
    { name = "mood", type = { enum = "mood" }, default = "'ok'" },
    { name = "team_id", type = "integer", references = "teams.id", on_delete = "cascade", index = true },
    { name = "full_name", type = "text", renamed_from = "name" },
]
indexes = [{ keys = [{ expression = "lower(email)" }], unique = true, where = "team_id IS NOT NULL" }]
checks = [{ expression = "length(email) > 3" }]
"#;

    #[test]
    fn a_models_file_reads_as_a_schema() {
        let mut models = parse_toml(Path::new("models/app.toml"), MODELS).unwrap();
        super::super::finish(&mut models.schema).unwrap();
        let users = models.schema.table("users").unwrap();
        assert_eq!(
            users.columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["id", "email", "mood", "team_id", "full_name"]
        );
        assert!(!users.column("id").unwrap().nullable, "primary key columns are not null");
        assert_eq!(users.primary_key.as_ref().unwrap().columns, ["id"]);
        assert_eq!(users.unique_constraints[0].name.as_deref(), Some("uq_users_email"));
        assert_eq!(users.foreign_keys[0].name.as_deref(), Some("fk_users_team_id_teams"));
        assert_eq!(users.foreign_keys[0].on_delete, Some(ForeignKeyAction::Cascade));
        assert_eq!(users.checks[0].name.as_deref(), Some("ck_users_1"));
        let names: Vec<&str> = users.indexes.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["ix_users_expr", "ix_users_team_id"]);
        assert_eq!(
            users.column("mood").unwrap().ty,
            ColumnType::Enum { name: "mood".into(), values: vec!["sad".into(), "ok".into()] }
        );
        assert_eq!(models.renamed_tables["users"], "people");
        assert_eq!(models.renamed_columns[&("users".to_string(), "full_name".to_string())], "name");
    }

    const BLOG: &str = r#"
[[tables]]
name = "users"
columns = [{ name = "id", type = "bigint", primary_key = true }]
relations = [{ name = "posts", has_many = "posts", back_populates = "author", order_by = ["id desc"], load = "selectin" }]

[[tables]]
name = "posts"
columns = [
    { name = "id", type = "bigint", primary_key = true },
    { name = "user_id", type = "bigint", references = "users.id" },
]
relations = [
    { name = "author", belongs_to = "users", foreign_key = ["user_id"], back_populates = "posts" },
    { name = "tags", many_to_many = "tags", through = "post_tags" },
]

[[tables]]
name = "tags"
columns = [{ name = "id", type = "integer", primary_key = true }]

[[tables]]
name = "post_tags"
columns = [
    { name = "post_id", type = "bigint", primary_key = true, references = "posts.id" },
    { name = "tag_id", type = "integer", primary_key = true, references = "tags.id" },
]
"#;

    fn load_blog(text: &str) -> Result<super::super::Models, super::super::ModelError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("blog.toml"), text).unwrap();
        super::super::load(dir.path(), &["*.toml".into()])
    }

    #[test]
    fn relationships_are_read_checked_and_change_no_table() {
        let with = load_blog(BLOG).unwrap();
        let names: Vec<(&str, &str)> = with.relations.iter().map(|r| (r.table.as_str(), r.name.as_str())).collect();
        assert_eq!(names, [("users", "posts"), ("posts", "author"), ("posts", "tags")]);
        assert_eq!(with.relations[0].order_by, [("id".to_string(), true)]);
        // The same file without its `relations = [...]` entries.
        let mut stripped = String::new();
        let mut skipping = false;
        for line in BLOG.lines() {
            skipping |= line.starts_with("relations = [");
            if !skipping {
                stripped.push_str(line);
                stripped.push('\n');
            }
            skipping &= !line.ends_with(']');
        }
        let without = load_blog(&stripped).unwrap();
        assert!(without.relations.is_empty());
        assert_eq!(with.schema, without.schema, "relationships are not columns: no migration changes");
    }

    #[test]
    fn relationships_without_their_foreign_key_are_refused() {
        let err = |text: &str| load_blog(text).unwrap_err().to_string();
        let no_key = BLOG.replace(", references = \"users.id\"", "");
        let e = err(&no_key);
        assert!(e.ends_with("blog.toml:2: table `users`: relationship `posts`: has_many needs a foreign key on `posts` referring to `users`"), "{e}");
        let wrong = BLOG.replace("foreign_key = [\"user_id\"]", "foreign_key = [\"id\"]");
        assert!(
            err(&wrong).ends_with(
                "relationship `author`: belongs_to needs a foreign key (id) on `posts` referring to `users`"
            ),
            "{}",
            err(&wrong)
        );
        let two = BLOG.replace("has_many = \"posts\",", "has_many = \"posts\", has_one = \"posts\",");
        assert!(err(&two).contains("give exactly one of belongs_to, has_many, has_one, many_to_many"), "{}", err(&two));
        let typo = BLOG.replace("back_populates = \"author\"", "back_populate = \"author\"");
        assert!(err(&typo).contains("unknown key `back_populate`; did you mean `back_populates`?"), "{}", err(&typo));
        let order = BLOG.replace("[\"id desc\"]", "[\"nope\"]");
        assert!(err(&order).ends_with("order_by names `nope`, which is not a column of `posts`"), "{}", err(&order));
        let cascade =
            BLOG.replace("order_by = [\"id desc\"]", "order_by = [\"id desc\"], cascade = \"delete, delete-orphan\"");
        let read = load_blog(&cascade).unwrap();
        assert_eq!(read.relations[0].cascade, migrate_grammar::Cascade { delete: true, delete_orphan: true });
        let unknown = BLOG.replace("order_by = [\"id desc\"]", "cascade = \"delete-orphans\"");
        assert!(
            err(&unknown).ends_with(
                "relationship `posts`: unknown cascade \"delete-orphans\": expected save-update, delete, delete-orphan or all"
            ),
            "{}",
            err(&unknown)
        );
    }

    #[test]
    fn a_version_column_is_marked_and_generated_as_such() {
        let text = "[[tables]]\nname = \"accounts\"\ncolumns = [\n  { name = \"id\", type = \"bigint\", primary_key = true },\n  \
                    { name = \"version\", type = \"integer\", nullable = false, version = true },\n]\n";
        let models = parse_toml(Path::new("m.toml"), text).unwrap();
        assert!(models.version_columns.contains(&("accounts".to_string(), "version".to_string())));
        let source = crate::models::generate_rust_models(&models).unwrap();
        assert!(source.contains("    #[model(version)]\n    pub version: i32,"), "{source}");
        for bad in ["type = \"text\", nullable = false", "type = \"integer\""] {
            let text = format!(
                "[[tables]]\nname = \"t\"\ncolumns = [\n  {{ name = \"id\", type = \"bigint\", primary_key = true }},\n  \
                 {{ name = \"v\", {bad}, version = true }},\n]\n"
            );
            let error = parse_toml(Path::new("m.toml"), &text).unwrap_err().to_string();
            assert!(
                error.starts_with("m.toml:5: table `t`: column `v`: version = true needs a non-null integer"),
                "{error}"
            );
        }
    }

    #[test]
    fn errors_name_file_and_line() {
        let err = |text: &str| parse_toml(Path::new("m.toml"), text).unwrap_err().to_string();
        let unknown_type = "[[tables]]\nname = \"t\"\ncolumns = [\n  { name = \"a\", type = \"interger\" },\n]\n";
        assert!(
            err(unknown_type).starts_with("m.toml:4: column `a`: unknown type `interger`"),
            "{}",
            err(unknown_type)
        );
        let unknown_key =
            "[[tables]]\nname = \"t\"\ncolumns = [{ name = \"a\", type = \"integer\", nulable = true }]\n";
        assert_eq!(err(unknown_key), "m.toml:3: unknown key `nulable`; did you mean `nullable`?");
        let table_key = "[[tables]]\nname = \"t\"\ncolumns = [{ name = \"a\", type = \"integer\" }]\nindexs = []\n";
        assert_eq!(err(table_key), "m.toml:4: unknown key `indexs`; did you mean `indexes`?");
        let index_key = "[[tables]]\nname = \"t\"\ncolumns = [{ name = \"a\", type = \"integer\" }]\n\
                         indexes = [{ columns = [\"a\"], uniqe = true }]\n";
        assert_eq!(err(index_key), "m.toml:4: unknown key `uniqe`; did you mean `unique`?");
        let type_key = "[[tables]]\nname = \"t\"\ncolumns = [\n  { name = \"a\", type = { enum = \"e\", valuse = [\"x\"] } },\n]\n";
        assert_eq!(err(type_key), "m.toml:4: column `a`: unknown key `valuse`; did you mean `values`?");
        let twice = "[[tables]]\nname = \"t\"\ncolumns = [{ name = \"a\", type = \"integer\" }, { name = \"a\", type = \"text\" }]\n";
        assert!(err(twice).contains("column `a` is declared twice"), "{}", err(twice));
        let mut dangling = parse_toml(
            Path::new("m.toml"),
            "[[tables]]\nname = \"t\"\ncolumns = [{ name = \"a\", type = \"integer\", references = \"nope.id\" }]\n",
        )
        .unwrap();
        let e = super::super::finish(&mut dangling.schema).unwrap_err();
        assert_eq!(e.1, "table `t`: foreign key (a) refers to table `nope`, which no model declares");
    }
}
