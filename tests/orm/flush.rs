//! The session's flush: inserts batched per table with generated keys
//! filled in, rows ordered by their foreign keys, expiry, rollback of
//! deletes and optimistic concurrency, on every backend.

use crate::common::{TestDb, each_backend};
use migrate::models::Model as _;
use migrate::orm::echo::StatementEvent;
use migrate::orm::query::text;
use migrate::orm::{Echo, Pool, PoolOptions, Session};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "members")]
pub struct Member {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(max_length = 100, unique)]
    pub email: String,
    pub score: Option<i32>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "badges")]
pub struct Badge {
    #[model(primary_key, references = "members.id")]
    pub member_id: i64,
    #[model(primary_key)]
    pub n: i16,
    #[model(max_length = 50)]
    pub label: String,
}

/// Echoed statement lines, shared with the pool's echo.
pub(crate) type Lines = Arc<Mutex<Vec<String>>>;

/// A pool on `db` whose echo (values shown if `show`) goes into the lines.
pub(crate) fn echo_pool(db: &TestDb, show: bool) -> (Pool, Lines) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    let echo = Echo::callback(move |event: &StatementEvent<'_>| sink.lock().unwrap().push(event.to_string()))
        .show_parameters(show);
    let pool = Pool::open(&db.url, PoolOptions { echo: Some(echo), ..PoolOptions::default() }).unwrap();
    (pool, lines)
}

/// Creates `tables` with the pool's dialect.
fn create(pool: &Pool, tables: &[migrate::schema::Table]) {
    let mut conn = pool.get().unwrap();
    for table in tables {
        for sql in pool.dialect().create_table(table) {
            conn.execute(&sql).unwrap();
        }
    }
}

/// The echoed statements that begin with `prefix`.
fn sent(lines: &Lines, prefix: &str) -> Vec<String> {
    lines.lock().unwrap().iter().filter(|l| l.starts_with(prefix)).cloned().collect()
}

/// Member ids by email, as the database holds them.
fn member_ids(s: &mut Session) -> HashMap<String, i64> {
    let rows: Vec<(i64, String)> = s.execute(&text("SELECT id, email FROM members")).unwrap();
    rows.into_iter().map(|(id, email)| (email, id)).collect()
}

#[test]
fn flush_batches_inserts_per_table_and_fills_generated_keys() {
    each_backend("flush_batches", |db| {
        let (pool, lines) = echo_pool(db, false);
        create(&pool, &[Member::table(), Badge::table()]);
        let mut s = pool.session();
        // A row already there, so generated keys do not start at 1.
        s.add(Member { email: "first@x.io".into(), ..Member::default() });
        s.commit().unwrap();
        lines.lock().unwrap().clear();
        // Interleaved NULLs and values: every column's type must survive.
        let members: Vec<_> = (0..120)
            .map(|i| Member {
                email: format!("m{i:03}@x.io"),
                score: (i % 3 != 0).then_some(i),
                note: (i % 2 == 0).then(|| format!("note {i}")),
                ..Member::default()
            })
            .collect();
        let handles = s.add_all(members);
        s.flush().unwrap();
        let inserts = sent(&lines, "INSERT");
        assert_eq!(inserts.len(), 1, "one INSERT for 120 rows: {inserts:?}");
        let ids = member_ids(&mut s);
        assert_eq!(ids.len(), 121);
        for (i, &h) in handles.iter().enumerate() {
            let member = &s[h];
            assert_eq!(member.email, format!("m{i:03}@x.io"));
            assert_eq!(ids[&member.email], member.id, "{}: the key of its own row", member.email);
        }

        // Explicit keys: a plain multi-row insert, one per table.
        lines.lock().unwrap().clear();
        let badges: Vec<Badge> = handles
            .iter()
            .take(30)
            .flat_map(|&h| (1..=2).map(move |n| (h, n)))
            .map(|(h, n)| Badge { member_id: s[h].id, n, label: format!("badge {n}") })
            .collect();
        s.add_all(badges);
        let more = s.add(Member { email: "late@x.io".into(), ..Member::default() });
        s.commit().unwrap();
        let inserts = sent(&lines, "INSERT");
        assert_eq!(inserts.len(), 2, "one INSERT per table: {inserts:?}");
        assert!(inserts[0].contains("members") && inserts[1].contains("badges"), "parents first: {inserts:?}");
        assert_eq!(member_ids(&mut s)["late@x.io"], s[more].id);
        let count: Vec<(i64,)> = s.execute(&text("SELECT COUNT(*) FROM badges")).unwrap();
        assert_eq!(count[0].0, 60);

        // Past full batches, twice: the statement of a full batch is built
        // once and reused, by this flush and the next; every key is its row's.
        for round in 0..2 {
            lines.lock().unwrap().clear();
            let bulk: Vec<_> =
                (0..2_500).map(|i| Member { email: format!("bulk{round}-{i:04}@x.io"), ..Member::default() }).collect();
            let handles = s.add_all(bulk);
            s.flush().unwrap();
            assert_eq!(sent(&lines, "INSERT").len(), 3, "batches of 1,000 rows");
            let ids = member_ids(&mut s);
            for &h in &handles {
                assert_eq!(ids[&s[h].email], s[h].id, "{}: the key of its own row", s[h].email);
            }
        }
    });
}

use crate::shop::{Categories, Currencies, Customers, OrderLines, Orders, Products};

/// Creates the 24 tables of the shop fixture, as `migrate` would.
fn create_shop(pool: &Pool) {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    migrate_models(pool, &migrate::models::load(&fixtures, &["shop.rs".to_string()]).unwrap());
}

/// Creates the tables of `models` as `migrate` would (foreign keys in a
/// cycle added once the tables exist).
fn migrate_models(pool: &Pool, models: &migrate::models::Models) {
    let dialect = pool.dialect();
    let mut before = migrate::schema::Schema::default();
    let diff = migrate::autogen::compare(&before, models, dialect, &mut |_| false);
    let mut conn = pool.get().unwrap();
    for op in &diff.upgrade {
        for sql in dialect.render_op(op, &before).unwrap() {
            conn.execute(&sql).unwrap();
        }
        before.apply(op).unwrap();
    }
}

fn category(id: i32, parent_id: Option<i32>) -> Categories {
    Categories {
        id,
        parent_id,
        slug: format!("c{id}"),
        position: id,
        parent: Default::default(),
        children: Default::default(),
    }
}

fn at() -> chrono::NaiveDateTime {
    chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap().naive_utc()
}

/// Which table each echoed statement of `kind` (`INSERT`, `DELETE`) is on, in order.
fn tables_of(lines: &Lines, kind: &str, dialect: &dyn migrate::dialect::Dialect) -> Vec<String> {
    let tables = ["categories", "currencies", "customers", "order_lines", "orders", "products"];
    sent(lines, kind)
        .iter()
        .map(|l| {
            let name = tables.iter().find(|t| l.contains(&dialect.quote_identifier(t))).copied().unwrap_or("?");
            name.to_string()
        })
        .collect()
}

#[test]
fn flush_orders_a_shop_by_foreign_keys_and_self_references() {
    each_backend("flush_shop", |db| {
        let (pool, lines) = echo_pool(db, false);
        create_shop(&pool);
        let dialect = pool.dialect();
        let mut s = pool.session();
        // Everything added children first: the flush must reorder it.
        let lines_of_order: Vec<_> = (1..=3)
            .map(|n| OrderLines {
                order_id: 1,
                line_no: n,
                product_id: 10 + i64::from(n % 2),
                quantity: 1,
                unit_price: 5.into(),
                order: Default::default(),
                shipped: Default::default(),
            })
            .collect();
        s.add_all(lines_of_order);
        s.add(Orders {
            id: 0,
            customer_id: 1,
            status: "paid".into(),
            currency: "EUR".into(),
            total: 15.into(),
            placed_at: at(),
            shipping_address_id: None,
            note: None,
            customer: Default::default(),
            lines: Default::default(),
        });
        for (id, category_id) in [(10, 4), (11, 2)] {
            s.add(Products {
                id,
                sku: format!("sku-{id}"),
                name: format!("product {id}"),
                category_id: Some(category_id),
                supplier_id: None,
                price: 5.into(),
                currency: "EUR".into(),
                active: true,
                weight_kg: None,
                description: None,
                tags: Default::default(),
            });
        }
        // A tree: 4 -> 3 -> 1 <- 2, 5 -> 1; leaves added first.
        let tree = s.add_all([
            category(4, Some(3)),
            category(3, Some(1)),
            category(5, Some(1)),
            category(2, Some(1)),
            category(1, None),
        ]);
        s.add(Customers {
            id: 0,
            email: "ann@x.io".into(),
            name: "Ann".into(),
            referred_by: None,
            created_at: at(),
            newsletter: false,
            referrer: Default::default(),
            referrals: Default::default(),
            orders: Default::default(),
        });
        s.add(Currencies { code: "EUR".into(), decimals: 2 });
        lines.lock().unwrap().clear();
        s.commit().unwrap();
        assert_eq!(
            tables_of(&lines, "INSERT", dialect),
            ["categories", "categories", "categories", "customers", "currencies", "orders", "products", "order_lines"],
            "parents first (ties in the order models entered the session), the category tree in three levels, \
             one INSERT per table and level"
        );
        let categories = sent(&lines, "INSERT").into_iter().filter(|l| l.contains("categories")).collect::<Vec<_>>();
        assert_eq!(
            categories.iter().map(|l| l.matches("), (").count() + 1).collect::<Vec<_>>(),
            [1, 3, 1],
            "{categories:?}"
        );

        // Deleting everything: children first, the tree from its leaves.
        lines.lock().unwrap().clear();
        let lines_of_order = s.query::<OrderLines>(|q| q).unwrap();
        let orders = s.query::<Orders>(|q| q).unwrap();
        let products = s.query::<Products>(|q| q).unwrap();
        for h in lines_of_order {
            s.delete(h).unwrap();
        }
        for h in tree.into_iter().rev() {
            s.delete(h).unwrap();
        }
        for h in orders {
            s.delete(h).unwrap();
        }
        for h in products {
            s.delete(h).unwrap();
        }
        lines.lock().unwrap().clear();
        s.commit().unwrap();
        let deletes = tables_of(&lines, "DELETE", dialect);
        let first = |t: &str| deletes.iter().position(|d| d == t).unwrap();
        let last = |t: &str| deletes.iter().rposition(|d| d == t).unwrap();
        assert!(last("order_lines") < first("orders") && last("order_lines") < first("products"), "{deletes:?}");
        assert!(last("products") < first("categories"), "{deletes:?}");
        // The database checks the foreign keys row by row: a parent category
        // deleted before its children would have failed the commit.
        let category_deletes: Vec<String> =
            sent(&lines, "DELETE").into_iter().filter(|l| l.contains("categories")).collect();
        assert_eq!(category_deletes.len(), 5);
        let rows: Vec<(i64,)> = s.execute(&text("SELECT COUNT(*) FROM categories")).unwrap();
        assert_eq!(rows[0].0, 0);
    });
}

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "nodes")]
pub struct Node {
    #[model(primary_key)]
    pub id: i64,
    #[model(references = "nodes.id")]
    pub parent_id: Option<i64>,
}

#[test]
fn flush_reports_rows_that_refer_to_each_other_in_a_cycle() {
    each_backend("flush_row_cycle", |db| {
        for show in [false, true] {
            let (pool, lines) = echo_pool(db, show);
            if !show {
                create(&pool, &[Node::table()]);
            }
            let mut s = pool.session();
            s.add(Node { id: 1, parent_id: Some(2) });
            s.add(Node { id: 2, parent_id: Some(1) });
            s.add(Node { id: 3, parent_id: None });
            let error = s.flush().unwrap_err();
            let migrate::orm::Error::RowCycle { table, keys } = &error else { panic!("{error:?}") };
            assert_eq!(table, "nodes");
            assert_eq!(keys.len(), if show { 2 } else { 0 }, "keys only when the echo shows values: {error}");
            assert!(
                error.to_string().starts_with("cannot order the flush: rows of nodes refer to each other"),
                "{error}"
            );
            assert!(sent(&lines, "INSERT").is_empty(), "nothing was sent");
        }
    });
}

fn member(email: &str) -> Member {
    Member { email: email.into(), ..Member::default() }
}

fn stale_reason(s: &Session, h: migrate::orm::Handle<Member>) -> Option<Stale> {
    match s.try_get(h) {
        Err(migrate::orm::Error::StaleHandle { model: "Member", reason }) => Some(reason),
        Err(other) => panic!("{other:?}"),
        Ok(_) => None,
    }
}

use migrate::orm::Stale;

#[test]
fn expired_objects_are_read_again_only_when_asked() {
    each_backend("flush_expire", |db| {
        let (pool, _) = echo_pool(db, false);
        create(&pool, &[Member::table()]);
        let mut s = pool.session();
        let ann = s.add(Member { score: Some(1), ..member("ann@x.io") });
        let bob = s.add(member("bob@x.io"));
        s.commit().unwrap();
        let (ann_id, bob_id) = (s[ann].id, s[bob].id);
        pool.get().unwrap().execute("UPDATE members SET score = 7").unwrap();

        assert_eq!(s[ann].score, Some(1), "not expired: the session's values");
        s[ann].note = Some("unsaved".into());
        let sent = s.statement_count();
        s.expire(ann).unwrap();
        assert_eq!(s.statement_count(), sent, "expiring sends nothing");
        assert_eq!(stale_reason(&s, ann), Some(Stale::Expired));
        let error = s.try_get(ann).unwrap_err();
        assert!(error.to_string().starts_with("Member: the object is expired; read it again"), "{error}");
        assert!(s.try_get_mut(ann).is_err(), "no write to an expired object either");
        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s[ann].score)).unwrap_err();
        assert!(panic.downcast_ref::<String>().is_some_and(|m| m.contains("expired")));
        assert_eq!(s.get::<Member>(&ann_id).unwrap(), Some(ann), "get reads it again, same handle");
        assert_eq!((s[ann].score, s[ann].note.as_deref()), (Some(7), None), "the row's values, changes dropped");

        s.expire_all();
        assert_eq!(stale_reason(&s, bob), Some(Stale::Expired));
        let found = s.query::<Member>(|q| q.order_by(Member::ID.asc())).unwrap();
        assert_eq!(found, [ann, bob]);
        assert_eq!(s[bob].score, Some(7), "a query reads expired objects again");
        s.expire(bob).unwrap();
        s.refresh(bob).unwrap();
        assert_eq!(s[bob].id, bob_id);
        s.commit().unwrap();

        s.expunge(bob).unwrap();
        assert_eq!(stale_reason(&s, bob), Some(Stale::Expunged));
        assert!(matches!(s.delete(bob), Err(migrate::orm::Error::StaleHandle { reason: Stale::Expunged, .. })));
        s.delete(ann).unwrap();
        s.commit().unwrap();
        assert_eq!(stale_reason(&s, ann), Some(Stale::Deleted));
        assert_eq!(s.get::<Member>(&ann_id).unwrap(), None);
    });
}

use migrate::orm::prelude::Expression as _;

#[test]
fn rollback_gives_back_flushed_deletes() {
    each_backend("flush_rollback_deletes", |db| {
        let (pool, _) = echo_pool(db, false);
        create(&pool, &[Member::table()]);
        let mut s = pool.session();
        let ann = s.add(Member { score: Some(3), ..member("ann@x.io") });
        let bob = s.add(member("bob@x.io"));
        s.commit().unwrap();
        let ann_id = s[ann].id;
        let count = |s: &mut Session| member_ids(s).len();

        // Deleted and flushed inside a savepoint that rolls back.
        let mut sp = s.begin_nested().unwrap();
        sp.delete(ann).unwrap();
        sp.flush().unwrap();
        assert_eq!(stale_reason(&sp, ann), Some(Stale::Deleted));
        assert_eq!(count(&mut sp), 1);
        let added = sp.add(member("cy@x.io"));
        sp.flush().unwrap();
        sp.rollback().unwrap();
        assert_eq!(stale_reason(&s, ann), None, "persistent again");
        assert_eq!((s[ann].email.as_str(), s[ann].score), ("ann@x.io", Some(3)));
        let sent = s.statement_count();
        assert_eq!(s.get::<Member>(&ann_id).unwrap(), Some(ann), "back in the identity map");
        assert_eq!(s.statement_count(), sent);
        assert_eq!(stale_reason(&s, added), Some(Stale::RolledBack), "added inside: left the session");

        // Pending before a savepoint, inserted inside it: pending again.
        let dan = s.add(member("dan@x.io"));
        let mut sp = s.begin_nested().unwrap();
        sp.flush().unwrap();
        sp.rollback().unwrap();
        assert_eq!(count(&mut s), 3, "dan is inserted again by the autoflush");
        assert!(s.try_get(dan).is_ok());

        // Deleted and flushed in the transaction itself, which rolls back.
        s.commit().unwrap();
        s.delete(bob).unwrap();
        s.flush().unwrap();
        s.rollback().unwrap();
        assert!(s.try_get(bob).is_ok());
        s.commit().unwrap();
        assert_eq!(count(&mut s), 3, "nothing deleted by the commit");
        let emails: Vec<String> = s
            .query::<Member>(|q| q.filter(Member::EMAIL.like("%@x.io")))
            .unwrap()
            .into_iter()
            .map(|h| s[h].email.clone())
            .collect();
        assert_eq!(emails.len(), 3);
    });
}

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "accounts")]
pub struct Account {
    #[model(primary_key, autoincrement)]
    pub id: i64,
    #[model(max_length = 50)]
    pub owner: String,
    pub balance: i64,
    #[model(version)]
    pub version: i32,
}

#[test]
fn version_columns_refuse_stale_writes_from_racing_sessions() {
    use migrate::orm::Error;
    each_backend("flush_versions", |db| {
        for show in [false, true] {
            let (pool, lines) = echo_pool(db, show);
            if !show {
                create(&pool, &[Account::table()]);
            }
            let mut setup = pool.session();
            let created = setup.add(Account { owner: format!("ann{show}"), balance: 100, ..Account::default() });
            setup.commit().unwrap();
            let id = setup[created].id;

            // Both read the row (version 0), each in its own transaction
            // (SQLite's writers' transactions cannot overlap).
            let mut first = pool.session();
            let a = first.get::<Account>(&id).unwrap().unwrap();
            first.commit().unwrap();
            let mut second = pool.session();
            let b = second.get::<Account>(&id).unwrap().unwrap();
            second.commit().unwrap();

            lines.lock().unwrap().clear();
            first[a].balance += 10;
            first.commit().unwrap();
            assert_eq!(first[a].version, 1, "the update advanced the version");
            let update = sent(&lines, "UPDATE").pop().unwrap();
            let q = |c: &str| pool.dialect().quote_identifier(c);
            let (version, balance, owner) = (q("version"), q("balance"), q("owner"));
            assert!(update.contains(&format!("{version} = ({version} + ")), "{update}");
            assert!(update.contains(&format!("({version} = ")), "compared: {update}");
            assert!(update.contains(&format!("{balance} = ")) && !update.contains(&owner), "{update}");

            second[b].balance -= 50;
            let error = second.commit().unwrap_err();
            let Error::StaleObject { model, key } = &error else { panic!("{error:?}") };
            assert_eq!(*model, "Account");
            assert_eq!(key.is_some(), show, "the key only when the echo shows values: {error}");
            assert!(error.to_string().contains("changed or deleted by another transaction"), "{error}");
            let rows: Vec<(i64, i64)> = pool
                .session()
                .execute(&text("SELECT balance, version FROM accounts WHERE id = :id").bind("id", id))
                .unwrap();
            assert_eq!(rows, [(110, 1)], "nothing overwritten");

            // The session is usable: the stale object reads again, then writes.
            assert!(matches!(second.try_get(b), Err(Error::StaleHandle { reason: Stale::Expired, .. })));
            second.refresh(b).unwrap();
            assert_eq!((second[b].balance, second[b].version), (110, 1));
            second[b].balance -= 50;
            second.commit().unwrap();
            assert_eq!(second[b].version, 2);

            // A delete compares the version too.
            second.delete(b).unwrap();
            let error = {
                let mut conn = pool.get().unwrap();
                conn.execute(&format!("UPDATE accounts SET version = 9 WHERE id = {id}")).unwrap();
                drop(conn);
                second.commit().unwrap_err()
            };
            assert!(matches!(error, Error::StaleObject { .. }), "{error:?}");
            second.refresh(b).unwrap();
            assert_eq!(second[b].version, 9);
            second.delete(b).unwrap();
            second.commit().unwrap();
            assert_eq!(second.get::<Account>(&id).unwrap(), None);
        }
    });
}

#[test]
fn flush_steps_generated_keys_by_the_auto_increment_increment() {
    each_backend("flush_stepped_keys", |db| {
        if db.backend() != migrate::db::Backend::Mysql {
            return; // a MySQL/MariaDB setting (Galera sets it to the cluster size)
        }
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let echo = Echo::callback(move |event: &StatementEvent<'_>| sink.lock().unwrap().push(event.to_string()));
        // One connection, so the session gets the one whose step is set.
        let options = PoolOptions { max_size: 1, echo: Some(echo), ..PoolOptions::default() };
        let pool = Pool::open(&db.url, options).unwrap();
        create(&pool, &[Member::table()]);
        let mut conn = pool.get().unwrap();
        conn.execute("SET SESSION auto_increment_increment = 3, auto_increment_offset = 2").unwrap();
        drop(conn);
        let mut s = pool.session();
        s.add(member("first@x.io"));
        s.flush().unwrap();
        lines.lock().unwrap().clear();
        let handles = s.add_all((0..40).map(|i| member(&format!("m{i}@x.io"))));
        s.commit().unwrap();
        assert_eq!(sent(&lines, "INSERT").len(), 1, "one multi-row INSERT under lock mode 1");
        let ids = member_ids(&mut s);
        let keys: Vec<i64> = handles.iter().map(|&h| s[h].id).collect();
        assert!(keys.windows(2).all(|w| w[1] - w[0] == 3), "{keys:?}");
        for &h in &handles {
            assert_eq!(ids[&s[h].email], s[h].id, "{}", s[h].email);
        }
    });
}

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "teams")]
pub struct Team {
    #[model(primary_key)]
    pub id: i64,
    #[model(references = "players.id")]
    pub captain_id: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "players")]
pub struct Player {
    #[model(primary_key)]
    pub id: i64,
    #[model(references = "teams.id")]
    pub team_id: i64,
}

#[test]
fn flush_breaks_a_cycle_of_tables_at_a_nullable_foreign_key() {
    each_backend("flush_table_cycle", |db| {
        let (pool, lines) = echo_pool(db, false);
        let schema = migrate::schema::Schema { tables: vec![Team::table(), Player::table()], enums: Vec::new() };
        migrate_models(&pool, &migrate::models::Models { schema, ..Default::default() });
        let dialect = pool.dialect();
        let mut s = pool.session();
        // The team's captain is one of its players: neither row can go first.
        let players = s.add_all([Player { id: 1, team_id: 10 }, Player { id: 2, team_id: 10 }]);
        let team = s.add(Team { id: 10, captain_id: Some(2) });
        lines.lock().unwrap().clear();
        s.commit().unwrap();
        let statements: Vec<String> = lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with("INSERT") || l.starts_with("UPDATE"))
            .map(|l| l.split(" -- ").next().unwrap_or_default().to_string())
            .collect();
        let q = |c: &str| dialect.quote_identifier(c);
        assert_eq!(statements.len(), 3, "{statements:?}");
        assert!(statements[0].starts_with(&format!("INSERT INTO {}", q("teams"))), "{statements:?}");
        assert!(statements[1].starts_with(&format!("INSERT INTO {}", q("players"))), "{statements:?}");
        assert!(statements[2].starts_with(&format!("UPDATE {} SET {}", q("teams"), q("captain_id"))), "{statements:?}");
        let rows: Vec<(Option<i64>,)> = s.execute(&text("SELECT captain_id FROM teams")).unwrap();
        assert_eq!(rows, [(Some(2),)], "the captain is set after the players exist");

        // Deleting both: the captain is unset first, then players, then the team.
        s.delete(team).unwrap();
        for h in players {
            s.delete(h).unwrap();
        }
        s.commit().unwrap();
        let rows: Vec<(i64,)> = s.execute(&text("SELECT COUNT(*) FROM teams")).unwrap();
        assert_eq!(rows, [(0,)]);

        // Without a nullable edge, a cycle stays an error naming the tables.
        let error = {
            s.add(Egg { id: 1, hen_id: 1 });
            s.add(Hen { id: 1, egg_id: 1 });
            s.flush().unwrap_err()
        };
        assert!(
            matches!(&error, migrate::orm::Error::ForeignKeyCycle { tables } if tables == &["eggs", "hens"]),
            "{error:?}"
        );
    });
}

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "eggs")]
pub struct Egg {
    #[model(primary_key)]
    pub id: i64,
    #[model(references = "hens.id")]
    pub hen_id: i64,
}

#[derive(Debug, Clone, Default, PartialEq, migrate::models::Model)]
#[model(table = "hens")]
pub struct Hen {
    #[model(primary_key)]
    pub id: i64,
    #[model(references = "eggs.id")]
    pub egg_id: i64,
}
