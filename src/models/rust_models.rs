//! Rust models: the `#[derive(Model)]` structs of a `.rs` file, read with
//! `syn` without compiling anything, through the same grammar
//! (`migrate-grammar`) the derive macro uses.

use super::{ModelError, Models, parse_toml};
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
        // The TOML reader checks types and keys; its errors are the struct's.
        let part = parse_toml(path, &def.to_toml()).map_err(|e| match e {
            ModelError::Invalid { message, .. } => invalid(line, format!("{}: {message}", item.ident)),
            other => other,
        })?;
        if let Some(table) = part.schema.tables.first()
            && models.schema.table(&table.name).is_some()
        {
            return Err(invalid(line, format!("table `{}` is declared twice", table.name)));
        }
        models.lines.extend(part.schema.tables.iter().map(|t| (t.name.clone(), line)));
        models.schema.tables.extend(part.schema.tables);
        models.renamed_tables.extend(part.renamed_tables);
        models.renamed_columns.extend(part.renamed_columns);
    }
    Ok(models)
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
        let bad = "#[derive(Model)]\nstruct T {\n    #[model(primary)]\n    id: i32,\n}\n";
        let e = parse_rust(Path::new("m.rs"), bad).unwrap_err().to_string();
        assert!(e.starts_with("m.rs:3: unknown field attribute"), "{e}");
        let bad = "#[derive(Model)]\nstruct T {\n    id: std::collections::HashSet<i32>,\n}\n";
        let e = parse_rust(Path::new("m.rs"), bad).unwrap_err().to_string();
        assert!(e.starts_with("m.rs:3: unknown type for a column"), "{e}");
    }
}
