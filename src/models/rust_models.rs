//! Rust models: the `#[derive(Model)]` structs of a `.rs` file, read with
//! `syn` without compiling anything, through the same grammar
//! (`migrate-grammar`) the derive macro uses.

use super::{ModelError, Models, name_constraints};
use crate::schema::{
    Check, Column, ColumnType, DefaultValue, ForeignKey, ForeignKeyAction, Index, IndexKey, PrimaryKey, Table,
    UniqueConstraint,
};
use migrate_grammar::{ModelDef, TypeDef};
use std::path::Path;

/// Reads the `#[derive(Model)]` structs of one Rust file (at any module
/// depth); errors name the file and line.
pub fn parse_rust(path: &Path, text: &str) -> Result<Models, ModelError> {
    let invalid = |line: usize, message: String| ModelError::Invalid {
        path: path.display().to_string(),
        line: format!(":{line}"),
        message,
    };
    let file = syn::parse_file(text).map_err(|e| invalid(e.span().start().line, e.to_string()))?;
    let mut structs = Vec::new();
    collect(&file.items, &mut structs);
    let mut models = Models::default();
    for item in structs {
        let line = item.ident.span().start().line;
        let def = migrate_grammar::parse_struct(item).map_err(|e| invalid(e.span().start().line, e.to_string()))?;
        if models.schema.table(&def.name).is_some() {
            return Err(invalid(line, format!("table `{}` is declared twice", def.name)));
        }
        if let Some(old) = &def.renamed_from {
            models.renamed_tables.insert(def.name.clone(), old.clone());
        }
        for column in &def.columns {
            if let Some(old) = &column.renamed_from {
                models.renamed_columns.insert((def.name.clone(), column.name.clone()), old.clone());
            }
            if column.version {
                models.version_columns.insert((def.name.clone(), column.name.clone()));
            }
        }
        models.lines.insert(def.name.clone(), line);
        models.schema.tables.push(table_from_def(&def));
    }
    Ok(models)
}

/// The table a model definition describes, its constraints named by
/// convention: what `#[derive(Model)]` returns and what the CLI reads from
/// the same source. The grammar has checked every type and name already.
pub fn table_from_def(def: &ModelDef) -> Table {
    let mut table = Table::new(&def.name);
    table.comment = def.comment.clone();
    let mut key = Vec::new();
    for c in &def.columns {
        let ty = match &c.ty {
            TypeDef::Name(name) => name.parse().unwrap_or_else(|_| ColumnType::Raw { sql: name.clone() }),
            TypeDef::Enum { name, values } => ColumnType::Enum { name: name.clone(), values: values.clone() },
        };
        let mut column = Column::new(&c.name, ty);
        // A primary key's columns are NOT NULL on every backend.
        column.nullable = c.nullable && !c.primary_key;
        column.default = c.default.as_deref().map(DefaultValue::parse);
        column.autoincrement = c.autoincrement;
        column.comment = c.comment.clone();
        if c.primary_key {
            key.push(c.name.clone());
        }
        if c.unique {
            table.unique_constraints.push(UniqueConstraint { name: None, columns: vec![c.name.clone()] });
        }
        if c.index {
            table.indexes.push(Index {
                name: format!("ix_{}_{}", def.name, c.name),
                keys: vec![IndexKey::Column(c.name.clone())],
                unique: false,
                predicate: None,
            });
        }
        if let Some((referred_table, referred_column)) = c.references.as_deref().and_then(|r| r.rsplit_once('.')) {
            table.foreign_keys.push(ForeignKey {
                name: None,
                columns: vec![c.name.clone()],
                referred_table: referred_table.into(),
                referred_columns: vec![referred_column.into()],
                on_delete: c.on_delete.as_deref().and_then(action),
                on_update: c.on_update.as_deref().and_then(action),
            });
        }
        table.columns.push(column);
    }
    if !key.is_empty() {
        table.primary_key = Some(PrimaryKey { name: None, columns: key });
    }
    for index in &def.indexes {
        table.indexes.push(Index {
            name: index.name.clone().unwrap_or_else(|| format!("ix_{}_{}", def.name, index.columns.join("_"))),
            keys: index.columns.iter().cloned().map(IndexKey::Column).collect(),
            unique: index.unique,
            predicate: index.predicate.clone(),
        });
    }
    table.unique_constraints.extend(
        def.unique_constraints.iter().map(|u| UniqueConstraint { name: u.name.clone(), columns: u.columns.clone() }),
    );
    table.foreign_keys.extend(def.foreign_keys.iter().map(|f| ForeignKey {
        name: f.name.clone(),
        columns: f.columns.clone(),
        referred_table: f.referred_table.clone(),
        referred_columns: f.referred_columns.clone(),
        on_delete: f.on_delete.as_deref().and_then(action),
        on_update: f.on_update.as_deref().and_then(action),
    }));
    table.checks.extend(def.checks.iter().map(|c| Check { name: c.name.clone(), expression: c.expression.clone() }));
    name_constraints(&mut table);
    table.normalize();
    table
}

/// The grammar's action spelling (`set_null`).
fn action(text: &str) -> Option<ForeignKeyAction> {
    ForeignKeyAction::parse(&text.replace('_', " "))
}

fn collect<'a>(items: &'a [syn::Item], out: &mut Vec<&'a syn::ItemStruct>) {
    for item in items {
        match item {
            syn::Item::Struct(s) if migrate_grammar::derives_model(s) => out.push(s),
            syn::Item::Mod(m) => {
                if let Some((_, items)) = &m.content {
                    collect(items, out);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_fields_are_not_columns() {
        let source = "#[derive(Model)]\nstruct T {\n    #[model(primary_key)]\n    id: i64,\n    #[model(skip)]\n    \
                      cache: std::collections::HashMap<i32, i32>,\n}\n";
        let models = parse_rust(Path::new("m.rs"), source).unwrap();
        let columns: Vec<&str> = models.schema.tables[0].columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(columns, ["id"]);
        let bad = "#[derive(Model)]\nstruct T {\n    #[model(skip, unique)]\n    x: i32,\n}\n";
        let e = parse_rust(Path::new("m.rs"), bad).unwrap_err().to_string();
        assert_eq!(e, "m.rs:3: a skipped field is not a column: it takes no other attribute");
    }

    #[test]
    fn relationship_fields_are_not_columns() {
        let plain = "#[derive(Model)]\n#[model(table = \"posts\")]\nstruct Post {\n    #[model(primary_key)]\n    id: i64,\n    \
                     #[model(references = \"users.id\")]\n    user_id: i64,\n}\n";
        let with = plain.replace(
            "    user_id: i64,\n",
            "    user_id: i64,\n    #[model(belongs_to(User, foreign_key = \"user_id\"))]\n    author: One<User>,\n    \
             #[model(many_to_many(Tag, through = \"PostTag\", order_by = \"name desc\"))]\n    tags: Many<Tag>,\n",
        );
        let plain = parse_rust(Path::new("m.rs"), plain).unwrap();
        let with = parse_rust(Path::new("m.rs"), &with).unwrap();
        assert_eq!(plain.schema, with.schema, "declaring relationships changes no table, so no migration");
        let bad = "#[derive(Model)]\nstruct T {\n    #[model(primary_key)]\n    id: i64,\n    x_id: i64,\n    \
                   #[model(belongs_to(X, foreign_key = \"x_id\"))]\n    x: One<X>,\n}\n";
        let e = parse_rust(Path::new("m.rs"), bad).unwrap_err().to_string();
        assert!(
            e.starts_with("m.rs:6: belongs_to(.., foreign_key = \"x_id\"): column `x_id` has no foreign key"),
            "{e}"
        );
        let bad = "#[derive(Model)]\nstruct T {\n    #[model(primary_key)]\n    id: i64,\n    \
                   #[model(has_many(X, unique))]\n    xs: Many<X>,\n}\n";
        let e = parse_rust(Path::new("m.rs"), bad).unwrap_err().to_string();
        assert!(e.starts_with("m.rs:5: unknown has_many attribute"), "{e}");
        let bad = "#[derive(Model)]\nstruct T {\n    #[model(primary_key)]\n    id: i64,\n    \
                   #[model(has_many(X), unique)]\n    xs: Many<X>,\n}\n";
        let e = parse_rust(Path::new("m.rs"), bad).unwrap_err().to_string();
        assert_eq!(e, "m.rs:5: a relationship field is not a column: it takes no other attribute");
        let bad = "#[derive(Model)]\nstruct T {\n    #[model(primary_key)]\n    id: i64,\n    \
                   #[model(many_to_many(X))]\n    xs: Many<X>,\n}\n";
        let e = parse_rust(Path::new("m.rs"), bad).unwrap_err().to_string();
        assert!(e.contains("many_to_many(..) needs through = \"AssociationModel\""), "{e}");
        let bad = "#[derive(Model)]\nstruct T {\n    #[model(primary_key)]\n    id: i64,\n    \
                   #[model(has_many(X, load = \"joined\"))]\n    xs: Many<X>,\n}\n";
        let e = parse_rust(Path::new("m.rs"), bad).unwrap_err().to_string();
        assert!(e.contains("joined loading is for belongs_to and has_one"), "{e}");
        let bad = "#[derive(Model)]\nstruct T {\n    #[model(primary_key)]\n    id: i64,\n    \
                   #[model(has_many(X, cascade = \"delete, merge\"))]\n    xs: Many<X>,\n}\n";
        let e = parse_rust(Path::new("m.rs"), bad).unwrap_err().to_string();
        assert!(e.contains("unknown cascade \"merge\": expected save-update, delete, delete-orphan or all"), "{e}");
        let bad = "#[derive(Model)]\nstruct T {\n    #[model(primary_key)]\n    id: i64,\n    x_id: i64,\n    \
                   #[model(belongs_to(X, cascade = \"delete\"))]\n    x: One<X>,\n}\n";
        let e = parse_rust(Path::new("m.rs"), bad).unwrap_err().to_string();
        assert!(e.contains("cascade delete and delete-orphan are for has_many and has_one"), "{e}");
    }

    #[test]
    fn the_grammar_and_the_schema_accept_the_same_type_spellings() {
        let spellings = [
            "integer",
            "BIGINT",
            "varchar(20)",
            "varchar",
            "numeric(10,2)",
            "numeric(5)",
            "numeric",
            "char(2)",
            "timestamptz",
            "uuid",
            "json",
            "binary",
            "interger",
            "varchar(a)",
            "numeric(1,2,3)",
            "char(1,2)",
            "text(5)",
            "double precision",
            "",
        ];
        for s in spellings {
            assert_eq!(migrate_grammar::is_portable_type(s), s.parse::<ColumnType>().is_ok(), "{s}");
        }
    }

    #[test]
    fn structs_read_as_tables_and_errors_name_the_line() {
        let source = r#"
use migrate::models::Model;

#[derive(Debug, Model)]
struct Team {
    #[model(primary_key, autoincrement)]
    id: i32,
    #[model(max_length = 100, unique)]
    name: String,
}

struct NotAModel { x: i32 }

mod inner {
    #[derive(migrate::models::Model)]
    #[model(table = "members")]
    struct Member {
        #[model(primary_key)]
        id: i64,
        #[model(references = "team.id", on_delete = "cascade")]
        team_id: Option<i32>,
    }
}
"#;
        let models = parse_rust(Path::new("src/models.rs"), source).unwrap();
        let names: Vec<&str> = models.schema.tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["team", "members"]);
        let bad = "#[derive(Model)]\nstruct T {\n    #[model(sql_type = \"interger\")]\n    id: i32,\n}\n";
        let e = parse_rust(Path::new("m.rs"), bad).unwrap_err().to_string();
        assert!(e.starts_with("m.rs:3: unknown type `interger`"), "{e}");
        let bad = "#[derive(Model)]\n#[model(index(columns = [\"nope\"]))]\nstruct T {\n    id: i32,\n}\n";
        let e = parse_rust(Path::new("m.rs"), bad).unwrap_err().to_string();
        assert_eq!(e, "m.rs:3: index(..) names `nope`, which is not a column");
        let bad = "#[derive(Model)]\nstruct T {\n    #[model(primary)]\n    id: i32,\n}\n";
        let e = parse_rust(Path::new("m.rs"), bad).unwrap_err().to_string();
        assert!(e.starts_with("m.rs:3: unknown field attribute"), "{e}");
        let bad = "#[derive(Model)]\nstruct T {\n    id: std::collections::HashSet<i32>,\n}\n";
        let e = parse_rust(Path::new("m.rs"), bad).unwrap_err().to_string();
        assert!(e.starts_with("m.rs:3: unknown type for a column"), "{e}");
    }
}
