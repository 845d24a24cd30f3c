//! The inverse of each op, used to write a revision's downgrade.

use super::{AlterColumn, Op};

impl Op {
    /// The op that undoes this one, or `None` for `execute` and `bulk_insert`,
    /// whose effect only their author can undo.
    pub fn inverse(&self) -> Option<Op> {
        let op = match self.clone() {
            Op::CreateTable(table) => Op::DropTable(table),
            Op::DropTable(table) => Op::CreateTable(table),
            Op::RenameTable { from, to } => Op::RenameTable { from: to, to: from },
            Op::AddColumn { table, column } => Op::DropColumn { table, column },
            Op::DropColumn { table, column } => Op::AddColumn { table, column },
            Op::AlterColumn(alter) => Op::AlterColumn(alter.inverse()),
            Op::CreateIndex { table, index } => Op::DropIndex { table, index },
            Op::DropIndex { table, index } => Op::CreateIndex { table, index },
            Op::AddUnique { table, constraint } => Op::DropUnique { table, constraint },
            Op::DropUnique { table, constraint } => Op::AddUnique { table, constraint },
            Op::AddForeignKey { table, foreign_key } => Op::DropForeignKey { table, foreign_key },
            Op::DropForeignKey { table, foreign_key } => Op::AddForeignKey { table, foreign_key },
            Op::AddCheck { table, check } => Op::DropCheck { table, check },
            Op::DropCheck { table, check } => Op::AddCheck { table, check },
            Op::AddPrimaryKey { table, primary_key } => Op::DropPrimaryKey { table, primary_key },
            Op::DropPrimaryKey { table, primary_key } => Op::AddPrimaryKey { table, primary_key },
            Op::CreateEnum(enum_type) => Op::DropEnum(enum_type),
            Op::DropEnum(enum_type) => Op::CreateEnum(enum_type),
            add @ Op::AddEnumValue { .. } => {
                let existing = add.enum_labels_after().expect("enum label ops know their labels");
                let Op::AddEnumValue { name, value, columns, .. } = add else { unreachable!() };
                Op::DropEnumValue { name, value, existing, columns }
            }
            Op::DropEnumValue { name, value, existing, columns } => {
                let before = existing.iter().position(|v| *v == value).and_then(|i| existing.get(i + 1).cloned());
                let existing = existing.into_iter().filter(|v| *v != value).collect();
                Op::AddEnumValue { name, value, before, existing, columns }
            }
            Op::SetTableComment { table, from, to } => Op::SetTableComment { table, from: to, to: from },
            Op::Execute(_) | Op::BulkInsert { .. } => return None,
        };
        Some(op)
    }
}

impl AlterColumn {
    /// The change that restores the column as it was.
    pub fn inverse(&self) -> AlterColumn {
        let old = &self.existing;
        AlterColumn {
            table: self.table.clone(),
            column: self.rename.clone().unwrap_or_else(|| self.column.clone()),
            existing: self.altered(),
            rename: self.rename.as_ref().map(|_| self.column.clone()),
            ty: self.ty.as_ref().map(|_| old.ty.clone()),
            nullable: self.nullable.map(|_| old.nullable),
            default: self.default.as_ref().map(|_| old.default.clone()),
            comment: self.comment.as_ref().map(|_| old.comment.clone()),
        }
    }
}
