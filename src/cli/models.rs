//! `migrate models ...`: commands on the declared models themselves.

use super::Cli;
use super::output::Output;
use migrate::Error;
use migrate::models::{self, ModelError};
use std::io::Write;
use std::path::PathBuf;

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
}

/// Runs a `models` subcommand.
pub fn run(cli: &Cli, command: &ModelsCommand, out: &Output) -> Result<u8, Error> {
    let ModelsCommand::Generate { out: path, force } = command;
    let (_, database) = super::database_config(cli)?;
    let declared = models::load(&database.root, &database.models)?;
    let source = models::generate_rust_models(&declared)?;
    let tables = declared.schema.tables.len();
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
    // Written where the models globs look, it would be read as a second copy of every table.
    if models::is_model_path(&database.root, &database.models, path) {
        return Err(refuse("`models` in migrate.toml matches it: it would be read as models too".into()).into());
    }
    if path.exists() && !force {
        return Err(refuse("it exists (--force overwrites it)".into()).into());
    }
    std::fs::write(path, &source).map_err(|e| refuse(e.to_string()))?;
    if out.json() {
        out.print_json(&serde_json::json!({ "written": path, "tables": tables }));
    } else {
        out.text(&format!("wrote {} ({tables} model{})\n", path.display(), if tables == 1 { "" } else { "s" }));
    }
    Ok(0)
}
