//! `migrate models ...`: commands on the declared models themselves.

use super::Cli;
use super::output::Output;
use migrate::Error;
use migrate::command::{self, ModelFormat};
use migrate::models::{self, ModelError};
use std::io::Write;
use std::path::{Path, PathBuf};

/// `migrate models` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ModelsCommand {
    /// Write Rust `#[derive(Model)]` structs from the models (for TOML-only projects)
    Generate {
        /// File to write; `-` for stdout
        #[arg(short, long, value_name = "FILE", default_value = "-")]
        out: PathBuf,
        /// Overwrite FILE if it exists
        #[arg(long)]
        force: bool,
    },
    /// Write models from the live database (its tables, as `migrate inspect` reads them)
    Pull {
        /// Write Rust `#[derive(Model)]` structs
        #[arg(long, conflicts_with = "toml")]
        rust: bool,
        /// Write TOML models (the default)
        #[arg(long)]
        toml: bool,
        /// File to write; `-` for stdout
        #[arg(short, long, value_name = "FILE", default_value = "-")]
        out: PathBuf,
        /// Overwrite FILE if it exists
        #[arg(long)]
        force: bool,
    },
}

/// Runs a `models` subcommand.
pub fn run(cli: &Cli, command: &ModelsCommand, out: &Output) -> Result<u8, Error> {
    let (path, force) = match command {
        ModelsCommand::Generate { out: path, force } => (path, *force),
        ModelsCommand::Pull { rust, toml: _, out: path, force } => {
            let format = if *rust { ModelFormat::Rust } else { ModelFormat::Toml };
            let (url, database) = super::database_url(cli)?;
            let pulled = command::pull_models(&url, &database, format)?;
            return write(out, path, *force, &pulled.source, pulled.tables);
        }
    };
    let (_, database) = super::database_config(cli)?;
    let declared = models::load(&database.root, &database.models)?;
    let source = models::generate_rust_models(&declared)?;
    let tables = declared.schema.tables.len();
    // Written where the models globs look, it would be read as a second copy of every table.
    if path.as_os_str() != "-" && models::is_model_path(&database.root, &database.models, path) {
        let message = "`models` in migrate.toml matches it: it would be read as models too".into();
        return Err(ModelError::Write { path: path.display().to_string(), message }.into());
    }
    write(out, path, force, &source, tables)
}

/// Writes `source` (declaring `tables` tables) to `path`, or stdout for `-`.
fn write(out: &Output, path: &Path, force: bool, source: &str, tables: usize) -> Result<u8, Error> {
    if path.as_os_str() == "-" {
        if out.json() {
            out.print_json(&serde_json::json!({ "tables": tables, "source": source }));
        } else {
            // The code itself, even with --quiet: it is what was asked for.
            let _ = std::io::stdout().lock().write_all(source.as_bytes());
        }
        return Ok(0);
    }
    let refuse = |message: String| ModelError::Write { path: path.display().to_string(), message };
    if path.exists() && !force {
        return Err(refuse("it exists (--force overwrites it)".into()).into());
    }
    std::fs::write(path, source).map_err(|e| refuse(e.to_string()))?;
    if out.json() {
        out.print_json(&serde_json::json!({ "written": path, "tables": tables }));
    } else {
        out.text(&format!("wrote {} ({tables} model{})\n", path.display(), if tables == 1 { "" } else { "s" }));
    }
    Ok(0)
}
