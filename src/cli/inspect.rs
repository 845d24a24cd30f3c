//! Human and JSON output of `migrate inspect`.

use super::output::Output;
use migrate::command::Inspection;
use migrate::schema::{Column, ForeignKey, Index, IndexKey, Table};

/// Prints an inspection: JSON with `--json`, otherwise one block per table.
pub fn print(out: &Output, inspection: &Inspection) {
    if out.json() {
        return out.print_json(inspection);
    }
    let schema = &inspection.schema;
    let mut text = format!(
        "{} ({}): {} table{}\n",
        inspection.database,
        inspection.dialect,
        schema.tables.len(),
        if schema.tables.len() == 1 { "" } else { "s" }
    );
    for e in &schema.enums {
        let values: Vec<String> = e.values.iter().map(|v| format!("'{v}'")).collect();
        text.push_str(&format!("\n{} {} ({})\n", out.dim("enum"), out.bold(&e.name), values.join(", ")));
    }
    for table in &schema.tables {
        text.push('\n');
        text.push_str(&table_block(out, table));
    }
    out.text(&text);
}

/// One table as `inspect` prints it.
pub fn table_block(out: &Output, table: &Table) -> String {
    table_block_aligned(out, table, column_widths(table))
}

/// The widths of the name and type columns of `table`'s block.
pub fn column_widths(table: &Table) -> [usize; 2] {
    let rows: Vec<[String; 3]> = table.columns.iter().map(column_cells).collect();
    [0, 1].map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
}

/// One table as `inspect` prints it, its name and type columns at least
/// `widths` wide (so that two versions of a table line up in a diff).
pub fn table_block_aligned(out: &Output, table: &Table, widths: [usize; 2]) -> String {
    let mut text = format!("{} {}", out.dim("table"), out.bold(&table.name));
    if let Some(comment) = &table.comment {
        text.push_str(&out.dim(&format!("  -- {comment}")));
    }
    text.push('\n');
    let rows: Vec<[String; 3]> = table.columns.iter().map(column_cells).collect();
    let widths = [0, 1].map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0).max(widths[i]));
    for row in &rows {
        let line = format!("  {:w0$}  {:w1$}  {}", row[0], row[1], row[2], w0 = widths[0], w1 = widths[1]);
        text.push_str(line.trim_end());
        text.push('\n');
    }
    for line in constraint_lines(table) {
        text.push_str(&format!("  {line}\n"));
    }
    text
}

fn column_cells(column: &Column) -> [String; 3] {
    let mut attrs = Vec::new();
    if !column.nullable {
        attrs.push("not null".to_string());
    }
    if column.autoincrement {
        attrs.push("autoincrement".to_string());
    }
    if let Some(default) = &column.default {
        attrs.push(format!("default {}", default.to_text()));
    }
    if let Some(comment) = &column.comment {
        attrs.push(format!("-- {comment}"));
    }
    [column.name.clone(), column.ty.to_string(), attrs.join("  ")]
}

fn named(kind: &str, name: &Option<String>) -> String {
    name.as_ref().map_or_else(|| kind.to_string(), |n| format!("{kind} {n}"))
}

fn constraint_lines(table: &Table) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(pk) = &table.primary_key {
        lines.push(format!("{} ({})", named("primary key", &pk.name), pk.columns.join(", ")));
    }
    for u in &table.unique_constraints {
        lines.push(format!("{} ({})", named("unique", &u.name), u.columns.join(", ")));
    }
    lines.extend(table.indexes.iter().map(index_line));
    lines.extend(table.foreign_keys.iter().map(foreign_key_line));
    for c in &table.checks {
        lines.push(format!("{} ({})", named("check", &c.name), c.expression));
    }
    lines
}

fn index_line(index: &Index) -> String {
    let keys: Vec<String> = index
        .keys
        .iter()
        .map(|k| match k {
            IndexKey::Column(c) => c.clone(),
            IndexKey::Expression(e) => format!("({e})"),
        })
        .collect();
    let kind = if index.unique { "unique index" } else { "index" };
    let mut line = format!("{kind} {} ({})", index.name, keys.join(", "));
    if let Some(predicate) = &index.predicate {
        line.push_str(&format!(" where {predicate}"));
    }
    line
}

fn foreign_key_line(fk: &ForeignKey) -> String {
    let mut line = format!(
        "{} ({}) -> {} ({})",
        named("foreign key", &fk.name),
        fk.columns.join(", "),
        fk.referred_table,
        fk.referred_columns.join(", ")
    );
    if let Some(action) = fk.on_delete {
        line.push_str(&format!(" on delete {}", action.sql().to_lowercase()));
    }
    if let Some(action) = fk.on_update {
        line.push_str(&format!(" on update {}", action.sql().to_lowercase()));
    }
    line
}
