//! Declared models: what the database should hold, read from the TOML files
//! that `models` in `migrate.toml` names.
//!
//! Constraints without a name get one by convention, the same on every
//! backend, so that the database reads back what the models say and every
//! constraint can be dropped by name later: `uq_<table>_<columns>`,
//! `fk_<table>_<columns>_<referred table>`, `ck_<table>_<n>`.

mod generate;
mod rust_models;
mod toml_models;

pub use generate::{generate_rust, generate_rust_models, generate_rust_with};
pub use migrate_derive::Model;
/// The `#[model(...)]` grammar, for the code `#[derive(Model)]` generates.
pub use migrate_grammar as grammar;
pub use rust_models::{parse_rust, table_from_def};
pub use toml_models::{parse_toml, write_toml};

/// A struct declared as a model with `#[derive(Model)]`.
pub trait Model {
    /// The table it describes: the same the CLI reads from the source.
    fn table() -> Table;
}

/// Models given as Rust types: a tuple of `#[derive(Model)]` structs, such
/// as `(User, Post)`, for `Migrator::check_models`.
pub trait ModelSet {
    /// The tables of the models, in order.
    fn tables() -> Vec<Table>;
}

macro_rules! model_set {
    ($($model:ident),+) => {
        impl<$($model: Model),+> ModelSet for ($($model,)+) {
            fn tables() -> Vec<Table> {
                vec![$($model::table()),+]
            }
        }
    };
}

model_set!(A);
model_set!(A, B);
model_set!(A, B, C);
model_set!(A, B, C, D);
model_set!(A, B, C, D, E);
model_set!(A, B, C, D, E, F);
model_set!(A, B, C, D, E, F, G);
model_set!(A, B, C, D, E, F, G, H);
model_set!(A, B, C, D, E, F, G, H, I);
model_set!(A, B, C, D, E, F, G, H, I, J);
model_set!(A, B, C, D, E, F, G, H, I, J, K);
model_set!(A, B, C, D, E, F, G, H, I, J, K, L);
model_set!(A, B, C, D, E, F, G, H, I, J, K, L, M);
model_set!(A, B, C, D, E, F, G, H, I, J, K, L, M, N);
model_set!(A, B, C, D, E, F, G, H, I, J, K, L, M, N, O);
model_set!(A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P);

/// The models of a [`ModelSet`], checked as [`load`] checks files (every
/// foreign key refers to a declared table; constraints named).
pub fn compiled<S: ModelSet>() -> Result<Models, ModelError> {
    let mut models = Models::default();
    for table in S::tables() {
        if models.schema.table(&table.name).is_some() {
            return Err(compiled_error(format!("table `{}` is declared twice", table.name)));
        }
        models.schema.tables.push(table);
    }
    finish(&mut models.schema).map_err(|(_, message)| compiled_error(message))?;
    Ok(models)
}

fn compiled_error(message: String) -> ModelError {
    ModelError::Invalid { path: "the compiled models".into(), line: String::new(), message }
}

use crate::schema::{ColumnType, EnumType, Schema, Table};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Models could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// A file could not be read.
    #[error("cannot read {path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// A file is malformed, or names something that does not exist.
    #[error("{path}{line}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// `:line`, where known.
        line: String,
        /// What is wrong.
        message: String,
    },
    /// The `models` globs match no file.
    #[error("no model files match {0}")]
    NoFiles(String),
    /// `migrate models generate`: something the `#[model(...)]` grammar cannot say.
    #[error("{object} cannot be written as a Rust model: {message}")]
    NotExpressible {
        /// The table, column or enum.
        object: String,
        /// What about it.
        message: String,
    },
    /// `migrate models generate`: the output file exists (without `--force`) or cannot be written.
    #[error("cannot write {path}: {message}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}

/// The declared schema, with the rename hints the models give.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Models {
    /// Tables and enums.
    pub schema: Schema,
    /// Table name -> the name it had before (`renamed_from`).
    pub renamed_tables: BTreeMap<String, String>,
    /// (table, column) -> the column's name before.
    pub renamed_columns: BTreeMap<(String, String), String>,
    /// (table, column) of each optimistic-concurrency version column
    /// (`version = true`, `#[model(version)]`): ORM-only, no schema effect.
    pub version_columns: BTreeSet<(String, String)>,
    /// Table name -> the line of its file that declares it, for errors.
    pub lines: BTreeMap<String, usize>,
    /// Table names in the order they are declared: files in path order,
    /// tables in file order (`schema.tables` is sorted by name).
    pub declared: Vec<String>,
}

impl Models {
    /// The schema with its tables in declaration order ([`Models::declared`]),
    /// as `migrate models generate` writes them.
    pub fn in_declaration_order(&self) -> Schema {
        let mut schema = self.schema.clone();
        let position = |name: &str| self.declared.iter().position(|d| d == name).unwrap_or(usize::MAX);
        schema.tables.sort_by_key(|t| position(&t.name));
        schema
    }
}

/// Reads every file the `patterns` match (relative to `root`; `*` and `?` in
/// the file name): `.toml` files as TOML models, `.rs` files for their
/// `#[derive(Model)]` structs.
pub fn load(root: &Path, patterns: &[String]) -> Result<Models, ModelError> {
    let model_files = model_files(root, patterns);
    if model_files.is_empty() {
        return Err(ModelError::NoFiles(patterns.join(", ")));
    }
    let mut models = Models::default();
    // Table name -> the file that declares it.
    let mut origin: BTreeMap<String, PathBuf> = BTreeMap::new();
    for path in &model_files {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ModelError::Read { path: path.display().to_string(), message: e.to_string() })?;
        let part = if path.extension().is_some_and(|e| e == "rs") {
            parse_rust(path, &text)?
        } else {
            parse_toml(path, &text)?
        };
        merge(&mut models, &mut origin, part, path)?;
    }
    finish(&mut models.schema).map_err(|(table, message)| match origin.get(&table) {
        Some(path) => declared_at(&models.lines, path, &table, message),
        None => ModelError::Invalid { path: patterns.join(", "), line: String::new(), message },
    })?;
    Ok(models)
}

/// The model files the `patterns` match (relative to `root`), sorted.
fn model_files(root: &Path, patterns: &[String]) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = patterns.iter().flat_map(|p| matching(root, p)).collect();
    files.retain(|f| f.extension().is_some_and(|e| e == "toml" || e == "rs"));
    files.sort();
    files.dedup();
    files
}

/// Whether `path` (which need not exist) is a file the `patterns` would
/// match, so that [`load`] would read it.
pub fn is_model_path(root: &Path, patterns: &[String], path: &Path) -> bool {
    let (Some(name), Some(dir)) = (path.file_name().and_then(|f| f.to_str()), canonical_dir(path)) else {
        return false;
    };
    if !path.extension().is_some_and(|e| e == "toml" || e == "rs") {
        return false;
    }
    patterns.iter().any(|pattern| {
        let full = root.join(pattern);
        full.file_name().and_then(|f| f.to_str()).is_some_and(|p| crate::schema::glob_match(p, name))
            && canonical_dir(&full).is_some_and(|d| d == dir)
    })
}

/// The canonical folder `path` is in.
fn canonical_dir(path: &Path) -> Option<PathBuf> {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.canonicalize().ok(),
        _ => Path::new(".").canonicalize().ok(),
    }
}

/// An error about `table`, at the file (`path`) and line (from `lines`) that declare it.
fn declared_at(lines: &BTreeMap<String, usize>, path: &Path, table: &str, message: String) -> ModelError {
    ModelError::Invalid { path: path.display().to_string(), line: line_suffix(lines, table), message }
}

/// `:line` of `table`'s declaration, where known.
fn line_suffix(lines: &BTreeMap<String, usize>, table: &str) -> String {
    lines.get(table).map(|l| format!(":{l}")).unwrap_or_default()
}

fn matching(root: &Path, pattern: &str) -> Vec<PathBuf> {
    let full = root.join(pattern);
    let (Some(dir), Some(file)) = (full.parent(), full.file_name().and_then(|f| f.to_str())) else {
        return Vec::new();
    };
    if !file.contains(['*', '?']) {
        return if full.exists() { vec![full.clone()] } else { Vec::new() };
    }
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|f| f.to_str()).is_some_and(|f| crate::schema::glob_match(file, f)))
        .collect()
}

fn merge(
    models: &mut Models,
    origin: &mut BTreeMap<String, PathBuf>,
    part: Models,
    path: &Path,
) -> Result<(), ModelError> {
    for table in part.schema.tables {
        if let Some(first) = origin.get(&table.name) {
            let line = line_suffix(&models.lines, &table.name);
            let message = format!("table `{}` is declared twice (first in {}{line})", table.name, first.display());
            return Err(declared_at(&part.lines, path, &table.name, message));
        }
        origin.insert(table.name.clone(), path.to_path_buf());
        models.lines.insert(table.name.clone(), part.lines.get(&table.name).copied().unwrap_or_default());
        models.declared.push(table.name.clone());
        models.schema.tables.push(table);
    }
    for e in part.schema.enums {
        if models.schema.enum_type(&e.name).is_some() {
            let message = format!("enum `{}` is declared twice", e.name);
            return Err(ModelError::Invalid { path: path.display().to_string(), line: String::new(), message });
        }
        models.schema.enums.push(e);
    }
    models.renamed_tables.extend(part.renamed_tables);
    models.renamed_columns.extend(part.renamed_columns);
    models.version_columns.extend(part.version_columns);
    Ok(())
}

/// Checks references across files and names what has no name; an error
/// names the table concerned.
fn finish(schema: &mut Schema) -> Result<(), (String, String)> {
    let tables: BTreeMap<String, Table> = schema.tables.iter().map(|t| (t.name.clone(), t.clone())).collect();
    for table in &mut schema.tables {
        for fk in &table.foreign_keys {
            let fail = |message: String| Err((table.name.clone(), format!("table `{}`: {message}", table.name)));
            let Some(referred) = tables.get(&fk.referred_table) else {
                return fail(format!(
                    "foreign key ({}) refers to table `{}`, which no model declares",
                    fk.columns.join(", "),
                    fk.referred_table
                ));
            };
            if let Some(missing) = fk.referred_columns.iter().find(|c| referred.column(c).is_none()) {
                return fail(format!("foreign key refers to `{}.{missing}`, which does not exist", fk.referred_table));
            }
        }
        name_constraints(table);
    }
    // Enum types used by columns (Rust models declare them on the column).
    let used: Vec<EnumType> = schema
        .tables
        .iter()
        .flat_map(|t| &t.columns)
        .filter_map(|c| match &c.ty {
            ColumnType::Enum { name, values } => Some(EnumType { name: name.clone(), values: values.clone() }),
            _ => None,
        })
        .collect();
    for e in used {
        match schema.enum_type(&e.name) {
            None => schema.enums.push(e),
            Some(declared) if declared.values != e.values => {
                return Err((String::new(), format!("enum `{}` is declared with different values", e.name)));
            }
            Some(_) => {}
        }
    }
    schema.normalize();
    Ok(())
}

/// Gives unnamed unique, foreign-key and check constraints their
/// conventional names.
pub fn name_constraints(table: &mut Table) {
    let t = table.name.clone();
    for unique in table.unique_constraints.iter_mut().filter(|u| u.name.is_none()) {
        unique.name = Some(limit(format!("uq_{t}_{}", unique.columns.join("_"))));
    }
    for fk in table.foreign_keys.iter_mut().filter(|f| f.name.is_none()) {
        fk.name = Some(limit(format!("fk_{t}_{}_{}", fk.columns.join("_"), fk.referred_table)));
    }
    for (n, check) in table.checks.iter_mut().enumerate().filter(|(_, c)| c.name.is_none()) {
        check.name = Some(limit(format!("ck_{t}_{}", n + 1)));
    }
}

/// Names longer than PostgreSQL's 63 bytes are shortened, with a hash of the
/// whole name, so that they stay unique.
pub(super) fn limit(name: String) -> String {
    if name.len() <= 63 {
        return name;
    }
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    let mut cut = 54;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{:08x}", &name[..cut], hash as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_files(files: &[(&str, &str)]) -> Result<Models, ModelError> {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        load(dir.path(), &["*.toml".into()]).map_err(|e| match e {
            ModelError::Invalid { path, line, message } => ModelError::Invalid {
                path: Path::new(&path).file_name().unwrap().to_string_lossy().into_owned(),
                line,
                message,
            },
            other => other,
        })
    }

    const TEAMS: &str = "[[tables]]\nname = \"teams\"\ncolumns = [{ name = \"id\", type = \"integer\" }]\n\
                         primary_key = { columns = [\"id\"] }\n";

    #[test]
    fn table_level_primary_key_columns_are_not_null() {
        let models = load_files(&[("a.toml", TEAMS)]).unwrap();
        assert!(!models.schema.table("teams").unwrap().column("id").unwrap().nullable);
    }

    #[test]
    fn errors_across_files_name_the_file_and_line() {
        let dangling = "\n\n[[tables]]\nname = \"members\"\n\
                        columns = [{ name = \"team_id\", type = \"integer\", references = \"team.id\" }]\n";
        let e = load_files(&[("a.toml", TEAMS), ("b.toml", dangling)]).unwrap_err().to_string();
        assert_eq!(
            e,
            "b.toml:3: table `members`: foreign key (team_id) refers to table `team`, which no model declares"
        );
        let e = load_files(&[("a.toml", TEAMS), ("b.toml", &format!("\n{TEAMS}"))]).unwrap_err().to_string();
        assert!(e.starts_with("b.toml:2: table `teams` is declared twice (first in "), "{e}");
        assert!(e.ends_with("a.toml:1)"), "{e}");
    }
}
