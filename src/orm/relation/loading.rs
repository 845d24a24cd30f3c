//! Loading strategies: a plan per query (the options asked for, then each
//! relationship's default), `joined` relationships as `LEFT JOIN`s decoded
//! with the row, `selectin` ones as one more statement per level (the keys
//! in one parameter where the backend can: see
//! [`crate::dialect::query::KeyList`]; else in chunks of `IN` lists),
//! and lazy loads only on request.

use super::{
    LoadDefault, LoadOption, Many, ModelInfo, One, Relation, RelationDef, RelationError, RelationKind, Relations,
    Strategy,
};
use crate::db::Connection;
use crate::dialect::query::{self as ast, DecodeError, Keys, StatementRef, Value};
use crate::orm::error::Error;
use crate::orm::exec;
use crate::orm::exec::Conn;
use crate::orm::model::Model;
use crate::orm::query::Statement;
use crate::orm::value::{FromRow, KeyValue, RowReader};
use foldhash::{HashMap, HashSet};
use std::any::TypeId;
use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Arc;

/// What a query loads besides its rows: `joined` relationships (read with
/// each row) and the loads that run after it.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// The `LEFT JOIN`s, in the order their columns follow the row's.
    pub joined: Vec<JoinPlan>,
    /// The loads after the rows are read, in order.
    pub after: Vec<Step>,
    /// Whether rows of one parent may repeat (a `joined` `has_one` with
    /// several rows) and are collapsed to the first.
    pub collapse: bool,
}

/// One `joined` relationship: its alias, how many columns it adds, and the
/// `joined` relationships below it.
#[derive(Debug, Clone)]
pub struct JoinPlan {
    /// The relationship.
    pub def: &'static RelationDef,
    /// The joined table's alias in the statement.
    pub alias: String,
    /// Its columns and those of the joins below it.
    pub width: usize,
    /// The joins below it.
    pub nested: Vec<JoinPlan>,
}

/// A load after the rows are read: a `selectin` statement, or (for a
/// `joined` relationship) the loads below the objects it read.
#[derive(Debug, Clone)]
pub struct Step {
    /// The relationship.
    pub def: &'static RelationDef,
    /// `Selectin`, or `Joined` for the loads below a joined one.
    pub strategy: Strategy,
    /// What to load for the related objects.
    pub child: Plan,
}

/// The plan for rows of `M` with `options` (and the relationships'
/// defaults); `None` when nothing is loaded. Made once per model and
/// options on each thread (see `PLANS`).
pub fn plan_for<M: Relations>(options: &[LoadOption]) -> Result<Option<Arc<Plan>>, RelationError> {
    let model = TypeId::of::<M>();
    let known = PLANS
        .with_borrow(|plans| plans.iter().find(|p| p.model == model && p.options == options).map(|p| p.plan.clone()));
    if let Some(plan) = known {
        return Ok(plan);
    }
    let mut aliases = 0;
    let plan = plan(&M::INFO, options, &[], &mut aliases)?;
    let plan = (!plan.joined.is_empty() || !plan.after.is_empty()).then(|| Arc::new(plan));
    PLANS.with_borrow_mut(|plans| {
        if plans.len() == PLANS_KEPT {
            plans.remove(0);
        }
        plans.push(KnownPlan { model, options: options.to_vec(), plan: plan.clone() });
    });
    Ok(plan)
}

/// A plan made, with what it was made for.
struct KnownPlan {
    model: TypeId,
    options: Vec<LoadOption>,
    plan: Option<Arc<Plan>>,
}

/// How many plans a thread keeps; past that, the oldest goes.
const PLANS_KEPT: usize = 64;

thread_local! {
    /// The plans made on this thread, oldest first. A plan depends only on
    /// the model and the options (the relationships are static), and a
    /// program runs queries of a few shapes again and again (a request
    /// handler's): building the plan each time cost more than this lookup.
    /// Not one of `exec`'s template memos: those are hash maps looked up
    /// by an owned key, and a key here would copy the options at every
    /// query; this list is searched with the borrowed options.
    static PLANS: std::cell::RefCell<Vec<KnownPlan>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Defaults are not followed back along the relationship just loaded, nor
/// round a cycle, nor deeper than this.
const DEFAULT_DEPTH: usize = 6;

fn default_applies(def: &'static RelationDef, path: &[&'static RelationDef]) -> bool {
    let back = path.last().is_some_and(|last| {
        last.spec.owner.table == def.spec.target.table && last.spec.target.table == def.spec.owner.table
    });
    !back && path.len() < DEFAULT_DEPTH && !path.iter().any(|p| std::ptr::eq(*p, def))
}

fn plan(
    info: &'static ModelInfo,
    options: &[LoadOption],
    path: &[&'static RelationDef],
    aliases: &mut usize,
) -> Result<Plan, RelationError> {
    let relations: Vec<&'static RelationDef> = info.relations.iter().map(|r| r()).collect();
    if let Some(stray) = options.iter().find(|o| !relations.iter().any(|r| std::ptr::eq(*r, o.def))) {
        return Err(RelationError::NotARelationOf { relation: stray.def.label(), model: info.name });
    }
    let mut out = Plan::default();
    for def in relations {
        let explicit = options.iter().rev().find(|o| std::ptr::eq(o.def, def));
        let (strategy, nested): (Strategy, &[LoadOption]) = match explicit {
            Some(option) => (option.strategy, &option.nested),
            None if default_applies(def, path) => match def.spec.load {
                LoadDefault::Raise => continue,
                LoadDefault::Selectin => (Strategy::Selectin, &[]),
                LoadDefault::Joined => (Strategy::Joined, &[]),
            },
            None => continue,
        };
        let mut below: Vec<&'static RelationDef> = path.to_vec();
        below.push(def);
        match strategy {
            Strategy::Raise => {}
            Strategy::Joined if def.spec.kind.is_collection() => {
                return Err(RelationError::JoinedCollection {
                    relation: def.label(),
                    option: format!("selectin({}::{})", def.spec.owner.name, def.spec.handle),
                });
            }
            Strategy::Joined => {
                *aliases += 1;
                let alias = format!("j{aliases}");
                let child = plan(def.spec.target, nested, &below, aliases)?;
                let width = def.spec.target.columns.len() + child.joined.iter().map(|j| j.width).sum::<usize>();
                out.collapse |= def.spec.kind == RelationKind::HasOne || child.collapse;
                out.joined.push(JoinPlan { def, alias, width, nested: child.joined });
                if !child.after.is_empty() {
                    let after = Plan { joined: Vec::new(), after: child.after, collapse: false };
                    out.after.push(Step { def, strategy: Strategy::Joined, child: after });
                }
            }
            Strategy::Selectin => {
                let child = plan(def.spec.target, nested, &below, aliases)?;
                out.after.push(Step { def, strategy: Strategy::Selectin, child });
            }
        }
    }
    Ok(out)
}

/// Runs `statement` for rows of `R` with `plan`: its joins added to the
/// statement, its loads after.
pub fn fetch_planned<R: FromRow>(
    conn: &mut Connection,
    statement: &(impl Statement + ?Sized),
    plan: &Plan,
) -> Result<Vec<R>, Error> {
    exec::now(std::pin::pin!(fetch_planned_on(&mut Conn::Sync(conn), statement, plan)))
}

/// [`fetch_planned`] on either kind of connection.
pub(crate) async fn fetch_planned_on<R: FromRow>(
    conn: &mut Conn<'_>,
    statement: &(impl Statement + ?Sized),
    plan: &Plan,
) -> Result<Vec<R>, Error> {
    let mut rows = match joined_select(statement, plan)? {
        None => exec::fetch_plain::<R>(conn, statement).await?,
        Some(select) => exec::fetch_ast::<R>(conn, &select, &plan.joined).await?,
    };
    R::after_load(&mut rows, conn, plan).await?;
    Ok(rows)
}

/// `statement` with the `LEFT JOIN`s of `plan`'s `joined` relationships
/// added; `None` when it has none.
fn joined_select(statement: &(impl Statement + ?Sized), plan: &Plan) -> Result<Option<ast::Select>, RelationError> {
    if plan.joined.is_empty() {
        return Ok(None);
    }
    let StatementRef::Select(select) = statement.as_ast() else {
        return Err(RelationError::JoinedNeedsSelect);
    };
    let mut select = select.clone();
    let base = match select.from.first() {
        Some(ast::Source::Table { alias: Some(alias), .. }) => alias.clone(),
        Some(ast::Source::Table { name, .. }) => name.clone(),
        _ => return Err(RelationError::JoinedNeedsSelect),
    };
    add_joins(&mut select, &base, &plan.joined)?;
    Ok(Some(select))
}

/// What the derive's `FromRow::after_load` runs: duplicate parents
/// collapsed where a join may repeat them, then the plan's loads.
pub async fn after_load_rows<M: Relations>(rows: &mut Vec<M>, conn: &mut Conn<'_>, plan: &Plan) -> Result<(), Error> {
    if plan.collapse {
        let mut seen = HashSet::default();
        rows.retain(|row| seen.insert(row.key().map_key()));
    }
    let mut refs: Vec<&mut M> = rows.iter_mut().collect();
    after_load(&mut refs, conn, plan).await
}

async fn after_load<M: Relations>(rows: &mut [&mut M], conn: &mut Conn<'_>, plan: &Plan) -> Result<(), Error> {
    if rows.is_empty() {
        return Ok(());
    }
    for step in &plan.after {
        M::load_relation(rows, step, conn).await?;
    }
    Ok(())
}

fn column(table: &str, name: &'static str) -> ast::Expr {
    ast::Expr::Column { table: Some(Cow::Owned(table.to_string())), name: Cow::Borrowed(name) }
}

pub(super) fn equal_columns(
    left_table: &str,
    left: &[&'static str],
    right_table: &str,
    right: &[&'static str],
) -> ast::Expr {
    let parts = left.iter().zip(right).map(|(l, r)| ast::Expr::Binary {
        op: ast::BinaryOp::Eq,
        left: Box::new(column(left_table, l)),
        right: Box::new(column(right_table, r)),
    });
    ast::Expr::And(parts.collect())
}

fn add_joins(select: &mut ast::Select, parent: &str, joins: &[JoinPlan]) -> Result<(), RelationError> {
    for join in joins {
        let r = join.def.resolved()?;
        let target = join.def.spec.target;
        let on = equal_columns(parent, &r.owner_columns, &join.alias, &r.link_columns);
        select.joins.push(ast::Join {
            kind: ast::JoinKind::Left,
            source: ast::Source::Table {
                name: Cow::Borrowed(target.table),
                alias: Some(Cow::Owned(join.alias.clone())),
            },
            on,
        });
        select
            .columns
            .extend(target.columns.iter().map(|c| ast::SelectItem { expr: column(&join.alias, c), alias: None }));
        add_joins(select, &join.alias, &join.nested)?;
    }
    Ok(())
}

/// A key as a map key: integers of any width alike (a one-column integer
/// key without an allocation), `None` when a part is `NULL`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum GroupKey {
    /// A one-column integer key.
    Int(i64),
    /// Any other key, as text.
    Text(String),
}

fn group_key<'a>(values: impl IntoIterator<Item = Value<'a>>) -> Option<GroupKey> {
    let mut values = values.into_iter().peekable();
    let first = values.next()?;
    if let (Some(n), None) = (first.as_i64(), values.peek()) {
        return Some(GroupKey::Int(n));
    }
    let mut text = String::new();
    for value in std::iter::once(first).chain(values) {
        match &value {
            Value::Null => return None,
            other => match other.as_i64() {
                Some(n) => write!(text, "{n}|"),
                None => write!(text, "{other:?}|"),
            },
        }
        .ok()?;
    }
    Some(GroupKey::Text(text))
}

/// The group key of `row`'s columns at `positions` (positions in
/// `COLUMNS`), read without the other columns.
fn group_key_of<M: Model>(row: &M, positions: &[usize]) -> Option<GroupKey> {
    group_key(positions.iter().map(|&i| row.value(i)))
}

/// Each row's group key at `positions`, and the distinct, non-null keys
/// sorted (integer keys by value), their values one key after another: the
/// same parents give the same statement whatever order they came in (a
/// level below the first gets them from a hash map), and the server probes
/// its index in order.
fn parent_keys<P: Model>(rows: &[&mut P], positions: &[usize]) -> (Vec<Option<GroupKey>>, Vec<Value<'static>>) {
    let groups: Vec<Option<GroupKey>> = rows.iter().map(|row| group_key_of(&**row, positions)).collect();
    let mut firsts: Vec<(&GroupKey, usize)> =
        groups.iter().enumerate().filter_map(|(i, group)| Some((group.as_ref()?, i))).collect();
    firsts.sort_unstable_by(|a, b| a.0.cmp(b.0));
    firsts.dedup_by(|a, b| a.0 == b.0);
    let mut keys = Vec::with_capacity(firsts.len() * positions.len());
    for (_, i) in firsts {
        keys.extend(positions.iter().map(|&p| rows[i].value(p).into_owned()));
    }
    (groups, keys)
}

/// `SELECT target.* [, association key] FROM target [JOIN association]
/// WHERE link IN (keys) ORDER BY ...`, with the child plan's joins.
fn child_select(def: &'static RelationDef, keys: Keys<'_>, joined: &[JoinPlan]) -> Result<ast::Select, RelationError> {
    let r = def.resolved()?;
    let target = def.spec.target;
    let t = target.table;
    let mut select = ast::Select {
        columns: target.columns.iter().map(|c| ast::SelectItem { expr: column(t, c), alias: None }).collect(),
        from: vec![ast::Source::Table { name: Cow::Borrowed(t), alias: None }],
        ..ast::Select::default()
    };
    add_joins(&mut select, t, joined)?;
    if let Some(through) = &r.through {
        select.joins.insert(
            0,
            ast::Join {
                kind: ast::JoinKind::Inner,
                source: ast::Source::Table { name: Cow::Borrowed(r.link_table), alias: None },
                on: equal_columns(r.link_table, &through.columns, t, &through.target_columns),
            },
        );
        select
            .columns
            .extend(r.link_columns.iter().map(|c| ast::SelectItem { expr: column(r.link_table, c), alias: None }));
    }
    select.filter = Some(ast::Expr::KeyIn {
        columns: r.link_columns.iter().map(|c| column(r.link_table, c)).collect(),
        keys: keys.values.to_vec(),
    });
    // Without an `order_by` the collection is put in key order after the
    // read (`fetch_related`), not by the server: an `ORDER BY` of the key
    // next to `= ANY($1)` makes PostgreSQL switch to a generic plan after
    // five runs that scans the key index and compares every row with every
    // key (ten times slower for 10,000 rows).
    if !def.spec.order_by.is_empty() {
        let order = def.spec.order_by.iter().map(|(c, descending)| (*c, *descending));
        let key = target.key.iter().filter(|k| !def.spec.order_by.iter().any(|(c, _)| c == *k)).map(|k| (*k, false));
        select.order_by = order
            .chain(key)
            .map(|(c, descending)| ast::OrderBy { expr: column(t, c), descending, nulls: None })
            .collect();
    }
    Ok(select)
}

/// A related row with the key of the parent it belongs to (many-to-many).
struct Keyed<C, K>(C, K);

impl<C: FromRow, K: FromRow> FromRow for Keyed<C, K> {
    fn from_row<R: RowReader>(row: &mut R) -> Result<Self, DecodeError> {
        Ok(Keyed(C::from_row(row)?, K::from_row(row)?))
    }

    fn from_row_joined<R: RowReader>(row: &mut R, joined: &[JoinPlan]) -> Result<Self, DecodeError> {
        Ok(Keyed(C::from_row_joined(row, joined)?, K::from_row(row)?))
    }
}

/// Related rows grouped by the key of the parent they belong to.
type Groups<C> = HashMap<GroupKey, Vec<C>>;

/// Reads the rows related to `keys` by `def`, in chunks, grouped by parent
/// key, with the child plan run over all of them at once.
async fn fetch_related<P: Model, C: Relations>(
    conn: &mut Conn<'_>,
    step: &Step,
    keys: Keys<'_>,
) -> Result<Groups<C>, Error>
where
    P::Key: FromRow,
{
    let def = step.def;
    let r = def.resolved()?;
    let mut groups: Groups<C> = HashMap::with_capacity_and_hasher(keys.len(), Default::default());
    let (_, caps) = conn.capabilities().await?;
    let id = std::ptr::from_ref(def) as usize;
    let joined = &step.child.joined;
    for chunk in keys.chunks(caps.keys_per_statement(keys).max(1)) {
        let select = || Ok(child_select(def, chunk, joined)?);
        if r.through.is_some() {
            let rows: Vec<Keyed<C, P::Key>> = exec::fetch_keyed(conn, id, chunk, joined, select).await?;
            let key_of = |key: &P::Key| match key.single_value() {
                Some(one) => group_key([one]),
                None => group_key(key.key_values()),
            };
            group(&mut groups, rows.into_iter().map(|Keyed(child, key)| (key_of(&key), child)));
        } else {
            let rows: Vec<C> = exec::fetch_keyed(conn, id, chunk, joined, select).await?;
            group(&mut groups, rows.into_iter().map(|child| (group_key_of(&child, &r.link_positions), child)));
        }
    }
    if def.spec.order_by.is_empty() {
        // Rows mostly arrive in key order already, which the sort checks in
        // one pass.
        groups.values_mut().for_each(|g| g.sort_by_key(|c| c.key().map_key()));
    }
    if !step.child.after.is_empty() {
        let mut refs: Vec<&mut C> = groups.values_mut().flatten().collect();
        after_load(&mut refs, conn, &step.child).await?;
    }
    Ok(groups)
}

/// Puts `rows` into `groups` by their keys (rows without one are dropped).
/// The rows of one parent mostly arrive together (the server reads them
/// through the foreign key's index, or in the order they were written):
/// each run of them costs one lookup, not each row.
fn group<C>(groups: &mut Groups<C>, rows: impl Iterator<Item = (Option<GroupKey>, C)>) {
    let mut run: Option<GroupKey> = None;
    let mut items = Vec::new();
    for (key, row) in rows {
        let Some(key) = key else { continue };
        if run.as_ref() != Some(&key)
            && let Some(done) = run.replace(key)
        {
            close_run(groups, done, &mut items);
        }
        items.push(row);
    }
    if let Some(done) = run {
        close_run(groups, done, &mut items);
    }
}

/// Moves a run's `items` into the group of `key`, leaving `items` empty.
fn close_run<C>(groups: &mut Groups<C>, key: GroupKey, items: &mut Vec<C>) {
    // A new group is made at the run's size: `items` keeps its room for the next run.
    groups.entry(key).or_insert_with(|| Vec::with_capacity(items.len())).append(items);
}

/// Gives each parent its group: moved to the last parent with that key,
/// cloned for the ones before. `keys`: each parent's group key (as
/// [`parent_keys`] read them); `unique`: no two parents share one (so none
/// is counted).
fn distribute<P: Model, C: Clone>(
    rows: &mut [&mut P],
    keys: &[Option<GroupKey>],
    mut groups: Groups<C>,
    unique: bool,
    mut set: impl FnMut(&mut P, Vec<C>),
) {
    let mut remaining: HashMap<&GroupKey, usize> = HashMap::default();
    if !unique {
        for key in keys.iter().flatten() {
            *remaining.entry(key).or_default() += 1;
        }
    }
    for (row, key) in rows.iter_mut().zip(keys) {
        let items = match key {
            None => Vec::new(),
            Some(key) => match remaining.get_mut(key) {
                // Parents still to come share it: this one gets a copy.
                Some(left) if *left > 1 => {
                    *left -= 1;
                    groups.get(key).cloned().unwrap_or_default()
                }
                _ => groups.remove(key).unwrap_or_default(),
            },
        };
        set(row, items);
    }
}

/// Loads a collection relationship (`has_many`, `many_to_many`) for `rows`
/// (what the derive calls for `step`'s relationship).
/// `back` fills each related object's side of a `back_populates` pair with
/// its parent (a no-op where there is none to fill).
pub async fn load_many<P: Relations, C: Relations + Clone>(
    rows: &mut [&mut P],
    step: &Step,
    conn: &mut Conn<'_>,
    field: for<'a> fn(&'a mut P) -> &'a mut Many<C>,
    back: fn(&mut C, &P),
) -> Result<(), Error>
where
    P::Key: FromRow,
{
    let loaded = children(move |p: &mut P| field(p).loaded_mut().map(|v| v.iter_mut().collect()).unwrap_or_default());
    load_related(rows, step, conn, loaded, |p, mut items| {
        items.iter_mut().for_each(|c| back(c, p));
        field(p).set(items);
    })
    .await
}

/// Loads a to-one relationship (`belongs_to`, `has_one`) for `rows` (what
/// the derive calls for `step`'s relationship).
/// `back` fills the related object's side of a `back_populates` pair with
/// its parent (a no-op where there is none to fill).
pub async fn load_one<P: Relations, C: Relations + Clone>(
    rows: &mut [&mut P],
    step: &Step,
    conn: &mut Conn<'_>,
    field: for<'a> fn(&'a mut P) -> &'a mut One<C>,
    back: fn(&mut C, &P),
) -> Result<(), Error>
where
    P::Key: FromRow,
{
    let loaded = children(move |p: &mut P| field(p).loaded_mut().into_iter().collect());
    load_related(rows, step, conn, loaded, |p, items| {
        let mut first = items.into_iter().next();
        if let Some(c) = first.as_mut() {
            back(c, p);
        }
        field(p).set(first);
    })
    .await
}

/// `f` as a closure over any borrow of the parent (what the compiler
/// cannot infer from the closure alone).
fn children<P, C, F: for<'a> Fn(&'a mut P) -> Vec<&'a mut C>>(f: F) -> F {
    f
}

/// What [`load_many`] and [`load_one`] share: below a `joined` one, the
/// loads of the objects it read (`loaded`); for a `selectin` one, the
/// related rows of every parent, given to each by `set`.
async fn load_related<P: Relations, C: Relations + Clone>(
    rows: &mut [&mut P],
    step: &Step,
    conn: &mut Conn<'_>,
    loaded: impl for<'a> Fn(&'a mut P) -> Vec<&'a mut C>,
    set: impl FnMut(&mut P, Vec<C>),
) -> Result<(), Error>
where
    P::Key: FromRow,
{
    match step.strategy {
        Strategy::Raise => Ok(()),
        Strategy::Joined => {
            let mut refs: Vec<&mut C> = rows.iter_mut().flat_map(|p| loaded(p)).collect();
            after_load(&mut refs, conn, &step.child).await
        }
        Strategy::Selectin => {
            let r = step.def.resolved()?;
            let (row_keys, values) = parent_keys(rows, &r.owner_positions);
            let keys = Keys { width: r.owner_positions.len(), values: &values };
            let unique = keys.len() == rows.len();
            let groups =
                if keys.is_empty() { HashMap::default() } else { fetch_related::<P, C>(conn, step, keys).await? };
            distribute(rows, &row_keys, groups, unique, set);
            Ok(())
        }
    }
}

/// Reads a `joined` relationship's columns: `None` when its key is `NULL`
/// (no related row), its columns and those below skipped.
pub fn decode_one<C: Relations, R: RowReader>(row: &mut R, join: &JoinPlan) -> Result<One<C>, DecodeError> {
    let key_at = C::KEY.first().and_then(|k| C::COLUMNS.iter().position(|c| c == k)).unwrap_or(0);
    if row.is_null_ahead(key_at) {
        row.skip(join.width);
        return Ok(One::loaded(None));
    }
    Ok(One::loaded(Some(C::from_row_joined(row, &join.nested)?)))
}

/// The plan of a lazy load of `def` (the related model's defaults apply below it).
pub(crate) fn lazy_step(def: &'static RelationDef) -> Result<Step, RelationError> {
    let mut aliases = 0;
    let child = plan(def.spec.target, &[], &[def], &mut aliases)?;
    Ok(Step { def, strategy: Strategy::Selectin, child })
}

/// Loads `relation` of one object read without a session (one statement):
/// the explicit lazy load.
pub fn load<P: Relations, C>(conn: &mut Connection, object: &mut P, relation: Relation<P, C>) -> Result<(), Error> {
    let step = lazy_step(relation.def())?;
    exec::now(std::pin::pin!(P::load_relation(&mut [object], &step, &mut Conn::Sync(conn))))
}
