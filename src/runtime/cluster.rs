//! What a revision must not do on a Galera cluster, checked before a run
//! starts: Galera replicates rows by primary key, so a table without one is
//! refused (`wsrep_mode=REQUIRED_PRIMARY_KEY`) or replicated badly (every
//! update and delete scans the table on every node, and nodes can diverge).

use super::RuntimeError;
use crate::ops::Op;
use crate::script::{Direction, RevisionMap, Step};

/// Refuses a plan one of whose steps creates a table without a primary key
/// or drops a primary key without adding one back in the same revision.
pub fn check_cluster_safe(map: &RevisionMap, steps: &[Step]) -> Result<(), RuntimeError> {
    for step in steps {
        let Some(revision) = map.get(&step.revision) else { continue };
        let ops = match step.direction {
            Direction::Up => &revision.file.upgrade,
            Direction::Down => &revision.file.downgrade,
        };
        for (index, op) in ops.iter().enumerate() {
            let unsafe_table = match op {
                Op::CreateTable(table) if table.primary_key.is_none() => Some(&table.name),
                Op::DropPrimaryKey { table, .. }
                    if !ops[index + 1..]
                        .iter()
                        .any(|later| matches!(later, Op::AddPrimaryKey { table: t, .. } if t == table)) =>
                {
                    Some(table)
                }
                _ => None,
            };
            if let Some(table) = unsafe_table {
                return Err(RuntimeError::NoPrimaryKeyOnCluster {
                    revision: step.revision.clone(),
                    table: table.clone(),
                    op: op.label(),
                });
            }
        }
    }
    Ok(())
}
