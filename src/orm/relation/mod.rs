//! Relationships between models: `belongs_to`, `has_many`, `has_one` and
//! `many_to_many` through an association model, declared on fields
//! (`#[model(has_many(Post, foreign_key = "user_id"))] posts: Many<Post>`)
//! and used through typed handles (`User::POSTS`): joins and `EXISTS`
//! filters ([`Relation::any`]), and loading strategies ([`selectin`], [`joined`]) that never run a
//! hidden query: a relationship that was not loaded is an error when read.
//!
//! ```
//! use migrate::orm::relation::{Many, One};
//!
//! #[derive(Debug, Clone, migrate::models::Model)]
//! #[model(table = "users")]
//! struct User {
//!     #[model(primary_key, autoincrement)]
//!     id: i64,
//!     #[model(has_many(Post, foreign_key = "user_id", back_populates = "author"))]
//!     posts: Many<Post>,
//! }
//!
//! #[derive(Debug, Clone, migrate::models::Model)]
//! #[model(table = "posts")]
//! struct Post {
//!     #[model(primary_key, autoincrement)]
//!     id: i64,
//!     #[model(references = "users.id")]
//!     user_id: i64,
//!     #[model(belongs_to(User, back_populates = "posts"))]
//!     author: One<User>,
//! }
//! # let _ = (User::POSTS, Post::AUTHOR);
//! ```
//!
//! What the foreign keys contradict does not compile: here `posts` has no
//! foreign key to `users` (the message names both and the key).
//!
//! ```compile_fail
//! # use migrate::orm::relation::Many;
//! #[derive(Debug, Clone, migrate::models::Model)]
//! #[model(table = "users")]
//! struct User {
//!     #[model(primary_key)]
//!     id: i64,
//!     #[model(has_many(Post, foreign_key = "user_id"))]
//!     posts: Many<Post>,
//! }
//! #[derive(Debug, Clone, migrate::models::Model)]
//! #[model(table = "posts")]
//! struct Post {
//!     #[model(primary_key)]
//!     id: i64,
//!     user_id: i64, // no references = "users.id"
//! }
//! ```
//!
//! Nor does a collection held in a to-one field:
//!
//! ```compile_fail
//! # use migrate::orm::relation::One;
//! #[derive(Debug, Clone, migrate::models::Model)]
//! #[model(table = "users")]
//! struct User {
//!     #[model(primary_key)]
//!     id: i64,
//!     #[model(has_many(Post))]
//!     posts: One<Post>, // a has_many holds Many<Post>
//! }
//! #[derive(Debug, Clone, migrate::models::Model)]
//! #[model(table = "posts")]
//! struct Post {
//!     #[model(primary_key)]
//!     id: i64,
//!     #[model(references = "users.id")]
//!     user_id: i64,
//! }
//! ```

mod filter;
pub(crate) use filter::joins;
mod loading;
mod resolve;

pub(crate) use loading::fetch_planned_on;
pub(crate) use loading::lazy_step;
pub use loading::{JoinPlan, Plan, Step, load, load_many, load_one};
#[doc(hidden)]
pub use loading::{after_load_rows, decode_one, fetch_planned, plan_for};
pub use migrate_grammar::{Cascade, LoadDefault, RelationKind};
pub use resolve::{Resolved, Through};
#[doc(hidden)]
pub use resolve::{foreign_key_count, has_column};

use super::error::Error;
use super::model::Model;
use std::marker::PhantomData;
use std::sync::OnceLock;

/// A model as relationships see it: names, columns, keys and foreign keys,
/// as constants (the derive's compile-time checks read them).
#[derive(Debug)]
pub struct ModelInfo {
    /// The Rust model's name (`User`), for messages.
    pub name: &'static str,
    /// Its table.
    pub table: &'static str,
    /// Its columns, in field order.
    pub columns: &'static [&'static str],
    /// Its primary-key columns.
    pub key: &'static [&'static str],
    /// Its foreign keys.
    pub foreign_keys: &'static [ForeignKeyRef],
    /// Its relationships, in field order.
    pub relations: &'static [fn() -> &'static RelationDef],
}

/// One foreign key of a model: `columns` refer to `referred` of `table`.
#[derive(Debug)]
pub struct ForeignKeyRef {
    /// Columns of the model holding the key.
    pub columns: &'static [&'static str],
    /// The table referred to.
    pub table: &'static str,
    /// Its columns, in the same order.
    pub referred: &'static [&'static str],
    /// Whether it is `ON DELETE CASCADE`.
    pub on_delete_cascade: bool,
    /// Whether all its columns are nullable.
    pub nullable: bool,
}

/// A relationship as declared (what `#[derive(Model)]` emits).
#[derive(Debug)]
pub struct RelationSpec {
    /// Its kind.
    pub kind: RelationKind,
    /// The field's name (`posts`).
    pub name: &'static str,
    /// The handle's name (`POSTS`).
    pub handle: &'static str,
    /// The model the field is on.
    pub owner: &'static ModelInfo,
    /// The related model.
    pub target: &'static ModelInfo,
    /// `many_to_many`: the association model.
    pub through: Option<&'static ModelInfo>,
    /// The foreign key's columns (see the grammar); empty: the one there is.
    pub foreign_key: &'static [&'static str],
    /// `many_to_many`: the association's key to the target; empty: inferred.
    pub target_foreign_key: &'static [&'static str],
    /// The other side of this relationship, on the target.
    pub back_populates: Option<fn() -> &'static RelationDef>,
    /// How a collection is ordered: target columns, descending or not.
    pub order_by: &'static [(&'static str, bool)],
    /// How it loads when a query names no option for it.
    pub load: LoadDefault,
    /// What deleting the owner or removing a child does.
    pub cascade: Cascade,
}

/// A relationship: its declaration and, once first used, its joins
/// resolved against the foreign keys.
pub struct RelationDef {
    /// The declaration.
    pub spec: RelationSpec,
    resolved: OnceLock<Result<Resolved, RelationError>>,
}

impl std::fmt::Debug for RelationDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.spec.owner.name, self.spec.name)
    }
}

impl RelationDef {
    /// A relationship of `spec`, resolved on first use.
    pub const fn new(spec: RelationSpec) -> Self {
        RelationDef { spec, resolved: OnceLock::new() }
    }

    /// Its columns and joins, checked against the foreign keys (once; the
    /// [`RelationDef::cascade_warnings`] are logged then, target
    /// `migrate::orm`).
    pub fn resolved(&'static self) -> Result<&'static Resolved, RelationError> {
        let resolved = self.resolved.get_or_init(|| {
            let resolved = resolve::resolve(self)?;
            for warning in resolve::cascade_warnings(self, &resolved) {
                log::warn!(target: "migrate::orm", "{warning}");
            }
            Ok(resolved)
        });
        resolved.as_ref().map_err(Clone::clone)
    }

    /// Where its cascades and its foreign key's `ON DELETE` disagree: an
    /// `ON DELETE CASCADE` key without `cascade = "delete"`, or
    /// `delete-orphan` over a nullable key.
    pub fn cascade_warnings(&'static self) -> Result<Vec<String>, RelationError> {
        Ok(resolve::cascade_warnings(self, self.resolved()?))
    }

    /// `User.posts`, for messages.
    pub fn label(&self) -> String {
        format!("{}.{}", self.spec.owner.name, self.spec.name)
    }

    /// The option that loads it, for messages: `selectin(User::POSTS)`.
    pub fn suggested_option(&self) -> String {
        let strategy = if self.spec.kind.is_collection() { "selectin" } else { "joined" };
        format!("{strategy}({}::{})", self.spec.owner.name, self.spec.handle)
    }
}

/// The typed handle of a relationship from `P` to `C`, as `User::POSTS`.
pub struct Relation<P, C> {
    def: fn() -> &'static RelationDef,
    marker: PhantomData<fn() -> (P, C)>,
}

impl<P, C> Clone for Relation<P, C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P, C> Copy for Relation<P, C> {}

impl<P, C> std::fmt::Debug for Relation<P, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.def())
    }
}

impl<P, C> Relation<P, C> {
    /// The handle of the relationship `def` returns (the derive makes these).
    pub const fn new(def: fn() -> &'static RelationDef) -> Self {
        Relation { def, marker: PhantomData }
    }

    /// Its declaration.
    pub fn def(&self) -> &'static RelationDef {
        (self.def)()
    }
}

/// Which rows a query loads for a relationship.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// One more statement per level: the related rows of every parent by
    /// their keys, bound as one parameter where the backend can (see
    /// [`crate::dialect::query::KeyList`]), else in `IN` lists of
    /// [`crate::dialect::query::Capabilities::keys_per_statement`] keys.
    Selectin,
    /// A `LEFT JOIN` in the query itself (many-to-one and one-to-one).
    Joined,
    /// Not loaded: reading it is an error; `session.load` loads it on request.
    Raise,
}

/// A loading option for a query (`.options(selectin(User::POSTS))`),
/// with the options for the related rows' own relationships.
#[derive(Debug, Clone)]
pub struct LoadOption {
    pub(crate) def: &'static RelationDef,
    pub(crate) strategy: Strategy,
    pub(crate) nested: Vec<LoadOption>,
}

impl PartialEq for LoadOption {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.def, other.def) && self.strategy == other.strategy && self.nested == other.nested
    }
}

/// A typed loading option for relationship `P` -> `C`; `.then(..)` adds an
/// option for `C`'s relationships.
#[derive(Debug, Clone)]
pub struct Load<P, C> {
    option: LoadOption,
    marker: PhantomData<fn() -> (P, C)>,
}

impl<P, C> Load<P, C> {
    fn new(relation: Relation<P, C>, strategy: Strategy) -> Self {
        Load { option: LoadOption { def: relation.def(), strategy, nested: Vec::new() }, marker: PhantomData }
    }

    /// Also loads `next`, a relationship of the related model, for the rows
    /// this option loads: `selectin(User::POSTS).then(selectin(Post::TAGS))`.
    pub fn then<D>(mut self, next: Load<C, D>) -> Self {
        self.option.nested.push(next.option);
        self
    }
}

impl<P, C> From<Load<P, C>> for LoadOption {
    fn from(load: Load<P, C>) -> Self {
        load.option
    }
}

/// Loads the relationship with one more statement per level (for collections).
pub fn selectin<P, C>(relation: Relation<P, C>) -> Load<P, C> {
    Load::new(relation, Strategy::Selectin)
}

/// Loads the relationship with a `LEFT JOIN` (for many-to-one and one-to-one).
pub fn joined<P, C>(relation: Relation<P, C>) -> Load<P, C> {
    Load::new(relation, Strategy::Joined)
}

/// Does not load the relationship, whatever its default.
pub fn raiseload<P, C>(relation: Relation<P, C>) -> Load<P, C> {
    Load::new(relation, Strategy::Raise)
}

/// What goes wrong with relationships.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelationError {
    /// A relationship was read but not loaded.
    #[error("{relation} is not loaded: add .options({option}) to the query, or call session.load(handle, {handle})")]
    NotLoaded {
        /// `User.posts`.
        relation: String,
        /// The option that loads it.
        option: String,
        /// `User::POSTS`.
        handle: String,
    },
    /// A relationship field of an object made in Rust, not read: nothing loaded it.
    #[error("this relationship was never loaded (the object was not read from the database)")]
    NeverLoaded,
    /// The declaration does not match the foreign keys.
    #[error("{relation}: {message}")]
    Invalid {
        /// `User.posts`.
        relation: String,
        /// What is wrong.
        message: String,
    },
    /// A loading option for a relationship of another model than the rows'.
    #[error("the option for {relation} does not apply to {model} rows")]
    NotARelationOf {
        /// `Post.tags`.
        relation: String,
        /// The model the rows are.
        model: &'static str,
    },
    /// `joined` asked for a collection.
    #[error("{relation} is a collection: load it with {option}, joined is for many-to-one and one-to-one")]
    JoinedCollection {
        /// `User.posts`.
        relation: String,
        /// `selectin(User::POSTS)`.
        option: String,
    },
    /// Loading options on a statement whose rows are not a model.
    #[error("loading options apply to queries whose rows are a model (select(User::ALL).from(User::TABLE))")]
    OptionsNeedModel,
    /// `joined` on a statement that is not a `SELECT`.
    #[error("joined loading needs a SELECT")]
    JoinedNeedsSelect,
    /// A change that does not fit the relationship's kind (`link` on a `has_many`).
    #[error("{relation} is a {kind}: {message}")]
    WrongKind {
        /// `User.posts`.
        relation: String,
        /// Its kind.
        kind: &'static str,
        /// What to use instead.
        message: &'static str,
    },
    /// A relationship change would put a key into a field that cannot hold
    /// it (another type, or `NULL` in a field that is not an `Option`).
    #[error("{model}.{} cannot take that value (another type, or NULL in a field that is not an Option)", columns.join(", "))]
    KeyDoesNotFit {
        /// The model whose field it is.
        model: &'static str,
        /// The columns.
        columns: Vec<&'static str>,
    },
    /// A child would lose its parent, but its foreign key is `NOT NULL`.
    #[error(
        "{relation}: {child}.{} is NOT NULL, so a {child} cannot be without its {parent}: delete it, give it another {parent}, or declare the relationship with cascade = \"delete-orphan\"",
        columns.join(", ")
    )]
    NotNullForeignKey {
        /// `User.posts`.
        relation: String,
        /// The child model.
        child: &'static str,
        /// The parent model.
        parent: &'static str,
        /// The foreign key's columns.
        columns: Vec<&'static str>,
    },
    /// The N+1 detector (set to error) refused a repeated lazy load.
    #[error(
        "N+1 queries: {relation} lazily loaded for {count} objects of one query; load them all at once with .options({option})"
    )]
    NPlusOne {
        /// `User.posts`.
        relation: String,
        /// How many loads of it so far for that query's objects.
        count: usize,
        /// The option to add to the query.
        option: String,
    },
}

/// What a session's N+1 detector does when the objects of one query have a
/// relationship lazily loaded (`session.load`) more than once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NPlusOne {
    /// Nothing (the default in release builds).
    Off,
    /// A warning through the `log` crate, once per query and relationship
    /// (the default in debug builds).
    Warn,
    /// `Error::Relation(RelationError::NPlusOne)` from the repeated load.
    Error,
}

impl Default for NPlusOne {
    fn default() -> Self {
        if cfg!(debug_assertions) { NPlusOne::Warn } else { NPlusOne::Off }
    }
}

/// What `#[derive(Model)]` implements for relationships: the model's
/// description and the typed parts of loading.
pub trait Relations: Model + Sized {
    /// The model as relationships see it.
    const INFO: ModelInfo;

    /// Runs `step` (a `selectin`, or the loads below a `joined`) for `rows`.
    fn load_relation<'a>(
        rows: &'a mut [&mut Self],
        step: &'a loading::Step,
        conn: &'a mut crate::orm::exec::Conn<'_>,
    ) -> crate::orm::exec::BoxFuture<'a, Result<(), Error>>;

    /// Reads the `joined` relationships' columns that follow the model's own.
    fn decode_joined<R: super::value::RowReader>(
        &mut self,
        row: &mut R,
        joined: &[JoinPlan],
    ) -> Result<(), crate::dialect::query::DecodeError>;

    /// Moves the loaded relationships of `from` (a row read again) into `self`.
    fn take_loaded(&mut self, from: &mut Self);

    /// The value (`Many<T>` or `One<T>`) of the relationship `def`, if it is one of this model's.
    fn relation_value(&mut self, def: &'static RelationDef) -> Option<&mut dyn std::any::Any>;
}

/// The error for a relationship of another model than `M`.
pub fn not_a_relation_of<M: Relations>(def: &'static RelationDef) -> Error {
    Error::Relation(RelationError::NotARelationOf { relation: def.label(), model: M::INFO.name })
}

/// A collection relationship's value: the related objects once loaded.
pub struct Many<T> {
    items: Option<Vec<T>>,
    relation: Option<fn() -> &'static RelationDef>,
}

/// A to-one relationship's value: the related object (or none) once loaded.
pub struct One<T> {
    item: Option<Option<Box<T>>>,
    relation: Option<fn() -> &'static RelationDef>,
}

fn not_loaded(relation: Option<fn() -> &'static RelationDef>) -> RelationError {
    match relation {
        Some(def) => {
            let def = def();
            RelationError::NotLoaded {
                relation: def.label(),
                option: def.suggested_option(),
                handle: format!("{}::{}", def.spec.owner.name, def.spec.handle),
            }
        }
        None => RelationError::NeverLoaded,
    }
}

impl<T> Many<T> {
    /// Not loaded, for the relationship `def` returns (what rows read as).
    #[doc(hidden)]
    pub fn unloaded(def: fn() -> &'static RelationDef) -> Self {
        Many { items: None, relation: Some(def) }
    }

    /// Loaded with `items`.
    pub fn loaded(items: Vec<T>) -> Self {
        Many { items: Some(items), relation: None }
    }

    /// Whether it was loaded.
    pub fn is_loaded(&self) -> bool {
        self.items.is_some()
    }

    /// The related objects; an error naming the option that loads them when
    /// they were not loaded.
    pub fn get(&self) -> Result<&[T], RelationError> {
        self.items.as_deref().ok_or_else(|| not_loaded(self.relation))
    }

    /// The related objects, to change in place.
    pub fn get_mut(&mut self) -> Result<&mut Vec<T>, RelationError> {
        let relation = self.relation;
        self.items.as_mut().ok_or_else(|| not_loaded(relation))
    }

    /// The related objects, owned.
    pub fn into_vec(self) -> Result<Vec<T>, RelationError> {
        self.items.ok_or_else(|| not_loaded(self.relation))
    }

    pub(crate) fn set(&mut self, items: Vec<T>) {
        self.items = Some(items);
    }

    pub(crate) fn loaded_mut(&mut self) -> Option<&mut Vec<T>> {
        self.items.as_mut()
    }
}

impl<T> One<T> {
    /// Not loaded, for the relationship `def` returns (what rows read as).
    #[doc(hidden)]
    pub fn unloaded(def: fn() -> &'static RelationDef) -> Self {
        One { item: None, relation: Some(def) }
    }

    /// Loaded with `item` (`None`: there is no related row).
    pub fn loaded(item: Option<T>) -> Self {
        One { item: Some(item.map(Box::new)), relation: None }
    }

    /// Whether it was loaded.
    pub fn is_loaded(&self) -> bool {
        self.item.is_some()
    }

    /// The related object, `None` when there is none; an error naming the
    /// option that loads it when it was not loaded.
    pub fn get(&self) -> Result<Option<&T>, RelationError> {
        match &self.item {
            Some(item) => Ok(item.as_deref()),
            None => Err(not_loaded(self.relation)),
        }
    }

    /// The related object, to change in place.
    pub fn get_mut(&mut self) -> Result<Option<&mut T>, RelationError> {
        match &mut self.item {
            Some(item) => Ok(item.as_deref_mut()),
            None => Err(not_loaded(self.relation)),
        }
    }

    pub(crate) fn set(&mut self, item: Option<T>) {
        self.item = Some(item.map(Box::new));
    }

    pub(crate) fn loaded_mut(&mut self) -> Option<&mut T> {
        self.item.as_mut().and_then(|i| i.as_deref_mut())
    }
}

macro_rules! relation_value_impls {
    ($ty:ident, $field:ident) => {
        impl<T> Default for $ty<T> {
            /// Not loaded (an object made in Rust).
            fn default() -> Self {
                $ty { $field: None, relation: None }
            }
        }

        impl<T: Clone> Clone for $ty<T> {
            fn clone(&self) -> Self {
                $ty { $field: self.$field.clone(), relation: self.relation }
            }
        }

        impl<T: std::fmt::Debug> std::fmt::Debug for $ty<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match &self.$field {
                    Some(value) => value.fmt(f),
                    None => f.write_str("<not loaded>"),
                }
            }
        }

        /// Equal when both hold the same objects, or neither is loaded.
        impl<T: PartialEq> PartialEq for $ty<T> {
            fn eq(&self, other: &Self) -> bool {
                self.$field == other.$field
            }
        }
    };
}
relation_value_impls!(Many, items);
relation_value_impls!(One, item);

/// Fills a to-one relationship with a copy of `parent` (the derive's
/// `back_populates` of a `has_many` or `has_one`).
#[doc(hidden)]
pub fn set_parent<P: Clone>(into: &mut One<P>, parent: &P) {
    into.set(Some(parent.clone()));
}

/// Takes `from`'s value when it is loaded (for [`Relations::take_loaded`]).
#[doc(hidden)]
pub fn take_if_loaded<V: Default + IsLoaded>(into: &mut V, from: &mut V) {
    if from.is_loaded_value() {
        *into = std::mem::take(from);
    }
}

/// Whether a relationship value is loaded.
#[doc(hidden)]
pub trait IsLoaded {
    /// Whether it is loaded.
    fn is_loaded_value(&self) -> bool;
}

impl<T> IsLoaded for Many<T> {
    fn is_loaded_value(&self) -> bool {
        self.is_loaded()
    }
}

impl<T> IsLoaded for One<T> {
    fn is_loaded_value(&self) -> bool {
        self.is_loaded()
    }
}
