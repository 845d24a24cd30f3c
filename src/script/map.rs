//! The revision DAG: parents (`down_revision`), dependencies (`depends_on`),
//! branch labels; target resolution; upgrade and downgrade plans.
//!
//! Order. A plan applies parents and dependencies before children: depth
//! first from the target revisions (sorted by id), visiting a revision's
//! `down_revision`s in file order then its `depends_on`, emitting each
//! revision after everything it needs — so one branch is finished before the
//! next starts. Downgrades run the same order backwards. `history` lists
//! children before parents, in the reverse of that order from all heads.

use super::{Direction, Revision, ScriptError, Step, dag};
use std::collections::HashMap;

/// All revisions of a script and their relations.
#[derive(Debug, Clone)]
pub struct RevisionMap {
    revisions: Vec<Revision>,
    index: HashMap<String, usize>,
    labels: HashMap<String, usize>,
    parents: Vec<Vec<usize>>,
    dependencies: Vec<Vec<usize>>,
    children: Vec<Vec<usize>>,
    dependents: Vec<Vec<usize>>,
}

/// What a target names.
enum Resolved {
    Base,
    Revisions(Vec<usize>),
}

impl RevisionMap {
    /// Builds the DAG, refusing duplicate ids, unknown parents or
    /// dependencies, duplicate branch labels and cycles.
    pub fn new(revisions: Vec<Revision>) -> Result<RevisionMap, ScriptError> {
        let mut index = HashMap::with_capacity(revisions.len());
        for (i, revision) in revisions.iter().enumerate() {
            if let Some(&other) = index.get(&revision.file.revision) {
                let other: &Revision = &revisions[other];
                return Err(dag(format!(
                    "duplicate revision id {} in {} and {}",
                    revision.file.revision,
                    other.path.display(),
                    revision.path.display()
                )));
            }
            index.insert(revision.file.revision.clone(), i);
        }
        let mut labels = HashMap::new();
        for (i, revision) in revisions.iter().enumerate() {
            for label in &revision.file.branch_labels {
                if index.contains_key(label) {
                    return Err(dag(format!(
                        "{}: branch label `{label}` is also a revision id",
                        revision.path.display()
                    )));
                }
                if labels.insert(label.clone(), i).is_some() {
                    return Err(dag(format!("{}: branch label `{label}` is used twice", revision.path.display())));
                }
            }
        }
        let mut map = RevisionMap {
            parents: vec![Vec::new(); revisions.len()],
            dependencies: vec![Vec::new(); revisions.len()],
            children: vec![Vec::new(); revisions.len()],
            dependents: vec![Vec::new(); revisions.len()],
            revisions,
            index,
            labels,
        };
        for i in 0..map.revisions.len() {
            let revision = &map.revisions[i];
            let mut parents = Vec::new();
            for parent in &revision.file.down_revision {
                let p = *map.index.get(parent).ok_or_else(|| {
                    dag(format!("{}: down_revision {parent} does not exist", revision.path.display()))
                })?;
                parents.push(p);
            }
            let mut dependencies = Vec::new();
            for dependency in &revision.file.depends_on {
                let d = map
                    .lookup(dependency)
                    .map_err(|e| dag(format!("{}: depends_on {dependency}: {e}", revision.path.display())))?;
                dependencies.push(d);
            }
            for &p in &parents {
                map.children[p].push(i);
            }
            for &d in &dependencies {
                map.dependents[d].push(i);
            }
            map.parents[i] = parents;
            map.dependencies[i] = dependencies;
        }
        for children in map.children.iter_mut().chain(map.dependents.iter_mut()) {
            children.sort_by(|a, b| map.revisions[*a].file.revision.cmp(&map.revisions[*b].file.revision));
        }
        map.check_cycles()?;
        Ok(map)
    }

    fn check_cycles(&self) -> Result<(), ScriptError> {
        // 0 = unseen, 1 = on the current path, 2 = done.
        let mut state = vec![0u8; self.revisions.len()];
        for start in 0..self.revisions.len() {
            if state[start] != 0 {
                continue;
            }
            let mut stack = vec![(start, 0usize)];
            state[start] = 1;
            while let Some((node, edge)) = stack.pop() {
                let needs: Vec<usize> = self.needs(node).collect();
                if let Some(&next) = needs.get(edge) {
                    stack.push((node, edge + 1));
                    match state[next] {
                        0 => {
                            state[next] = 1;
                            stack.push((next, 0));
                        }
                        1 => {
                            return Err(dag(format!(
                                "cycle in the revision graph through {} ({})",
                                self.revisions[next].file.revision,
                                self.revisions[next].path.display()
                            )));
                        }
                        _ => {}
                    }
                } else {
                    state[node] = 2;
                }
            }
        }
        Ok(())
    }

    /// Parents then dependencies of `i`.
    fn needs(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.parents[i].iter().chain(&self.dependencies[i]).copied()
    }

    fn id(&self, i: usize) -> &str {
        &self.revisions[i].file.revision
    }

    /// How many revisions there are.
    pub fn len(&self) -> usize {
        self.revisions.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.revisions.is_empty()
    }

    /// The revision with exactly this id.
    pub fn get(&self, id: &str) -> Option<&Revision> {
        self.index.get(id).map(|&i| &self.revisions[i])
    }

    /// Revisions no other revision has as parent, sorted by id.
    pub fn heads(&self) -> Vec<&str> {
        self.sorted_ids((0..self.len()).filter(|&i| self.children[i].is_empty()))
    }

    /// Revisions without parents, sorted by id.
    pub fn bases(&self) -> Vec<&str> {
        self.sorted_ids((0..self.len()).filter(|&i| self.parents[i].is_empty()))
    }

    /// Revisions with more than one child, sorted by id, with their children.
    pub fn branch_points(&self) -> Vec<(&str, Vec<&str>)> {
        let points = self.sorted_ids((0..self.len()).filter(|&i| self.children[i].len() > 1));
        points.into_iter().map(|id| (id, self.children[self.index[id]].iter().map(|&c| self.id(c)).collect())).collect()
    }

    /// The ids of a revision's children.
    pub fn children_of(&self, id: &str) -> Vec<&str> {
        self.index.get(id).map(|&i| self.children[i].iter().map(|&c| self.id(c)).collect()).unwrap_or_default()
    }

    fn sorted_ids(&self, items: impl Iterator<Item = usize>) -> Vec<&str> {
        let mut ids: Vec<&str> = items.map(|i| self.id(i)).collect();
        ids.sort();
        ids
    }

    /// The revision an id or unique prefix (at least 4 characters) names.
    pub fn resolve(&self, id: &str) -> Result<&Revision, ScriptError> {
        self.lookup_id(id).map(|i| &self.revisions[i])
    }

    fn lookup_id(&self, id: &str) -> Result<usize, ScriptError> {
        if let Some(&i) = self.index.get(id) {
            return Ok(i);
        }
        if id.len() < 4 {
            return Err(dag(format!("no revision `{id}` (a partial id needs at least 4 characters)")));
        }
        let mut matches: Vec<usize> = (0..self.len()).filter(|&i| self.id(i).starts_with(id)).collect();
        match matches.len() {
            0 => Err(dag(format!("no revision `{id}`"))),
            1 => Ok(matches[0]),
            _ => {
                matches.sort_by_key(|&i| self.id(i));
                let ids: Vec<&str> = matches.iter().map(|&i| self.id(i)).collect();
                Err(dag(format!("`{id}` is ambiguous: {}", ids.join(", "))))
            }
        }
    }

    /// A revision by id, prefix or branch label.
    fn lookup(&self, name: &str) -> Result<usize, ScriptError> {
        match self.labels.get(name) {
            Some(&i) => Ok(i),
            None => self.lookup_id(name),
        }
    }

    /// The full id of a revision named by id, unique prefix or branch label.
    pub fn resolve_name(&self, name: &str) -> Result<String, ScriptError> {
        self.lookup(name).map(|i| self.id(i).to_string())
    }

    /// The revisions a target names, without regard to any database: `head`
    /// (the only head), `heads`, `label@head`, an id, a prefix or a label.
    pub fn resolve_heads(&self, target: &str) -> Result<Vec<String>, ScriptError> {
        match self.resolve_target(&[], target)? {
            Resolved::Base => Ok(Vec::new()),
            Resolved::Revisions(revs) => Ok(revs.into_iter().map(|i| self.id(i).to_string()).collect()),
        }
    }

    /// Checks that a target names something, before any database is
    /// touched; relative targets are checked up to their anchor.
    pub fn check_target(&self, target: &str) -> Result<(), ScriptError> {
        let anchor = match target.split_once('@') {
            Some((name, _)) => name,
            None if target.starts_with(['+', '-']) => return Ok(()),
            None => match target.rfind(['+', '-']) {
                Some(at) if target[at + 1..].parse::<u32>().is_ok() => &target[..at],
                _ => target,
            },
        };
        match anchor {
            "head" | "heads" | "base" => Ok(()),
            name => self.lookup(name).map(|_| ()),
        }
    }

    /// Every ancestor of `from` (included), through parents and dependencies.
    fn ancestors(&self, from: &[usize]) -> Vec<bool> {
        self.closure(from, |i| self.needs(i).collect())
    }

    /// Every descendant of `from` (included), through children and dependents.
    fn descendants(&self, from: &[usize]) -> Vec<bool> {
        self.closure(from, |i| self.children[i].iter().chain(&self.dependents[i]).copied().collect())
    }

    fn closure(&self, from: &[usize], next: impl Fn(usize) -> Vec<usize>) -> Vec<bool> {
        let mut seen = vec![false; self.len()];
        let mut stack: Vec<usize> = from.to_vec();
        while let Some(i) = stack.pop() {
            if !seen[i] {
                seen[i] = true;
                stack.extend(next(i));
            }
        }
        seen
    }

    /// Revisions needed by `targets` and not `done`, parents first (see the
    /// module documentation for the order).
    fn ordered(&self, targets: &[usize], done: &[bool]) -> Vec<usize> {
        let mut targets = targets.to_vec();
        targets.sort_by_key(|&i| self.id(i));
        let mut emitted = done.to_vec();
        let mut order = Vec::new();
        for target in targets {
            let mut stack = vec![(target, 0usize)];
            while let Some((node, edge)) = stack.pop() {
                if emitted[node] {
                    continue;
                }
                let needs: Vec<usize> = self.needs(node).collect();
                match needs.get(edge) {
                    Some(&next) => {
                        stack.push((node, edge + 1));
                        if !emitted[next] {
                            stack.push((next, 0));
                        }
                    }
                    None => {
                        emitted[node] = true;
                        order.push(node);
                    }
                }
            }
        }
        order
    }

    /// Every revision, children before parents.
    pub fn walk(&self) -> Vec<&Revision> {
        let heads: Vec<usize> = (0..self.len()).filter(|&i| self.children[i].is_empty()).collect();
        let mut order = self.ordered(&heads, &vec![false; self.len()]);
        order.reverse();
        order.into_iter().map(|i| &self.revisions[i]).collect()
    }

    /// The revisions of a history range: `a:b` (between them, both
    /// included), `a:` (from a up), `:b` (up to b), or everything.
    pub fn history(&self, range: Option<&str>) -> Result<Vec<&Revision>, ScriptError> {
        let Some(range) = range else { return Ok(self.walk()) };
        let (from, to) = range.split_once(':').unwrap_or(("", range));
        let below = match to {
            "" | "heads" => None,
            to => match self.resolve_target(&[], to)? {
                Resolved::Base => Some(vec![false; self.len()]),
                Resolved::Revisions(revs) => Some(self.ancestors(&revs)),
            },
        };
        let above = match from {
            "" | "base" => None,
            from => match self.resolve_target(&[], from)? {
                Resolved::Base => None,
                Resolved::Revisions(revs) => Some(self.descendants(&revs)),
            },
        };
        Ok(self
            .walk()
            .into_iter()
            .filter(|r| {
                let i = self.index[&r.file.revision];
                below.as_ref().is_none_or(|b| b[i]) && above.as_ref().is_none_or(|a| a[i])
            })
            .collect())
    }

    fn current_indexes(&self, current: &[String]) -> Result<Vec<usize>, ScriptError> {
        current
            .iter()
            .map(|id| {
                self.index.get(id).copied().ok_or_else(|| {
                    dag(format!(
                        "the database is at revision {id}, which is not in the script; \
                         restore its file, or `migrate stamp --purge` to reset the version table"
                    ))
                })
            })
            .collect()
    }

    /// The only head of a set, or the multiple-heads error.
    fn single(&self, revs: &[usize]) -> Result<usize, ScriptError> {
        match revs {
            [one] => Ok(*one),
            _ => {
                let mut ids: Vec<&str> = revs.iter().map(|&i| self.id(i)).collect();
                ids.sort();
                Err(ScriptError::MultipleHeads(ids.join(", ")))
            }
        }
    }

    /// Steps `n` revisions up (`n` > 0, along children) or down (along
    /// parents) from `from` (`None` = base). Going past a head or past base
    /// is an error, as in Alembic, rather than a shorter move.
    fn relative(&self, from: Option<usize>, n: i64) -> Result<Resolved, ScriptError> {
        let start = from.map_or("base", |i| self.id(i)).to_string();
        let too_far = |taken: u64| {
            let end = if n > 0 { "a head" } else { "base" };
            dag(format!("relative target {n:+} from {start} goes past {end}: {taken} revisions that way"))
        };
        let mut at = from;
        for taken in 0..n.unsigned_abs() {
            let next: Vec<Option<usize>> = match (at, n > 0) {
                (None, true) => (0..self.len()).filter(|&i| self.parents[i].is_empty()).map(Some).collect(),
                (None, false) => return Err(too_far(taken)),
                (Some(i), true) => self.children[i].iter().copied().map(Some).collect(),
                (Some(i), false) if self.parents[i].is_empty() => vec![None],
                (Some(i), false) => self.parents[i].iter().copied().map(Some).collect(),
            };
            at = match next.as_slice() {
                [] => return Err(too_far(taken)),
                [one] => *one,
                _ => {
                    let here = at.map_or("base", |i| self.id(i));
                    return Err(dag(format!(
                        "relative target {n:+} from {start} is ambiguous: it branches at {here}; name a revision"
                    )));
                }
            };
        }
        Ok(at.map_or(Resolved::Base, |i| Resolved::Revisions(vec![i])))
    }

    /// Resolves a target (see docs/commands.md for the grammar) against the
    /// current heads.
    fn resolve_target(&self, current: &[usize], target: &str) -> Result<Resolved, ScriptError> {
        let heads = || (0..self.len()).filter(|&i| self.children[i].is_empty()).collect::<Vec<_>>();
        let step = |text: &str| text.parse::<i64>().ok().filter(|_| text.starts_with(['+', '-']));
        match target {
            "base" => return Ok(Resolved::Base),
            "heads" => return Ok(Resolved::Revisions(heads())),
            "head" if self.is_empty() => return Ok(Resolved::Base),
            "head" => return Ok(Resolved::Revisions(vec![self.single(&heads())?])),
            _ => {}
        }
        if let Some(n) = step(target) {
            let from = match current {
                [] => None,
                many => Some(self.single(many)?),
            };
            return self.relative(from, n);
        }
        if let Some((name, rest)) = target.split_once('@') {
            let anchor = self.lookup(name)?;
            let branch = self.descendants(&[anchor]);
            if rest == "head" {
                let on_branch: Vec<usize> = heads().into_iter().filter(|&h| branch[h]).collect();
                return Ok(Resolved::Revisions(vec![self.single(&on_branch)?]));
            }
            if rest == "base" {
                return Ok(Resolved::Revisions(vec![anchor]));
            }
            if let Some(n) = step(rest) {
                // Relative to where the database is on that branch.
                let at: Vec<usize> = current.iter().copied().filter(|&c| branch[c]).collect();
                let from = match at.as_slice() {
                    [] => {
                        return Err(dag(format!("the database has nothing of the branch `{name}` applied")));
                    }
                    many => self.single(many)?,
                };
                return self.relative(Some(from), n);
            }
            return Err(dag(format!("invalid target `{target}`: expected `{name}@head` or `{name}@-N`")));
        }
        if let Some(at) = target.rfind(['+', '-'])
            && let Some(n) = step(&target[at..])
        {
            return self.relative(Some(self.lookup(&target[..at])?), n);
        }
        Ok(Resolved::Revisions(vec![self.lookup(target)?]))
    }

    /// The steps that take a database at `current` (its version table) up
    /// to `target`. Empty when the target is already applied.
    pub fn upgrade_plan(&self, current: &[String], target: &str) -> Result<Vec<Step>, ScriptError> {
        let current_idx = self.current_indexes(current)?;
        let targets = match self.resolve_target(&current_idx, target)? {
            Resolved::Base => return Ok(Vec::new()),
            Resolved::Revisions(revs) => revs,
        };
        let applied = self.ancestors(&current_idx);
        let mut heads: Vec<String> = current.to_vec();
        heads.sort();
        let mut steps = Vec::new();
        for i in self.ordered(&targets, &applied) {
            let before = heads.clone();
            let parents: Vec<&str> = self.parents[i].iter().map(|&p| self.id(p)).collect();
            heads.retain(|h| !parents.contains(&h.as_str()));
            heads.push(self.id(i).to_string());
            heads.sort();
            steps.push(Step {
                revision: self.id(i).to_string(),
                direction: Direction::Up,
                heads_before: before,
                heads_after: heads.clone(),
            });
        }
        Ok(steps)
    }

    /// The steps that take a database at `current` down to `target`: every
    /// applied revision above the target (the target stays applied).
    pub fn downgrade_plan(&self, current: &[String], target_name: &str) -> Result<Vec<Step>, ScriptError> {
        let current_idx = self.current_indexes(current)?;
        let applied = self.ancestors(&current_idx);
        let remove: Vec<bool> = match self.resolve_target(&current_idx, target_name)? {
            Resolved::Base => applied.clone(),
            Resolved::Revisions(revs) => {
                let target = self.single(&revs)?;
                if !applied[target] {
                    return Err(dag(format!("downgrade target {} is not applied", self.id(target))));
                }
                let above = self.descendants(&[target]);
                // `label@-1` undoes revisions of that branch only.
                let within = match target_name.split_once('@') {
                    Some((name, _)) => {
                        let branch = self.descendants(&[self.lookup(name)?]);
                        let on_branch: Vec<usize> = current_idx.iter().copied().filter(|&c| branch[c]).collect();
                        self.ancestors(&on_branch)
                    }
                    None => vec![true; self.len()],
                };
                (0..self.len()).map(|i| applied[i] && above[i] && within[i] && i != target).collect()
            }
        };
        let mut order: Vec<usize> =
            self.ordered(&current_idx, &vec![false; self.len()]).into_iter().filter(|&i| remove[i]).collect();
        order.reverse();
        let mut heads: Vec<String> = current.to_vec();
        heads.sort();
        let mut steps = Vec::new();
        for i in order {
            let before = heads.clone();
            heads.retain(|h| h != self.id(i));
            let remaining: Vec<usize> = heads.iter().map(|h| self.index[h]).collect();
            let covered = self.closure(&remaining, |r| self.parents[r].clone());
            for &p in &self.parents[i] {
                if !covered[p] && !heads.iter().any(|h| h == self.id(p)) {
                    heads.push(self.id(p).to_string());
                }
            }
            heads.sort();
            steps.push(Step {
                revision: self.id(i).to_string(),
                direction: Direction::Down,
                heads_before: before,
                heads_after: heads.clone(),
            });
        }
        Ok(steps)
    }
}
