//! `userd copy-data --to URL`: every table of the configured database into an empty one
//! (typically SQLite → PostgreSQL), in one consistent pass.
//!
//! Tables are discovered, not listed: whatever the migrations have made is copied (sqlx's
//! `_sqlx_migrations`, SQLite's full-text index, which the target's own triggers or
//! indexes rebuild, and the directory's change log, which starts empty, excepted), columns
//! by name, parents before children (foreign keys), ids and timestamps as they are. The source is read in one snapshot, the target written
//! in one transaction (a failure leaves it empty), row counts are compared at the end, and
//! PostgreSQL's identity sequences are moved past the copied ids.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, bail, ensure};
use futures_util::TryStreamExt;
use sqlx::{Postgres, QueryBuilder, Row, Sqlite, postgres::PgRow, sqlite::SqliteRow};

use super::{Db, SqlStore};

/// How a column's values are read and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Int4,
    Bool,
    Real,
    Text,
    Bytes,
}

#[derive(Debug, Clone)]
enum Val {
    Null,
    Int(i64),
    Bool(bool),
    Real(f64),
    Text(String),
    Bytes(Vec<u8>),
}

struct Table {
    name: String,
    columns: Vec<(String, Kind)>,
    parents: BTreeSet<String>,
}

fn sqlite_kind(declared: &str) -> Kind {
    let d = declared.to_ascii_uppercase();
    if d.contains("BOOL") {
        Kind::Bool
    } else if d.contains("INT") {
        Kind::Int
    } else if d.contains("BLOB") || d.is_empty() {
        Kind::Bytes
    } else if d.contains("REAL") || d.contains("DOUB") || d.contains("FLOA") {
        Kind::Real
    } else {
        Kind::Text
    }
}

fn pg_kind(data_type: &str) -> anyhow::Result<Kind> {
    Ok(match data_type {
        "bigint" => Kind::Int,
        "integer" => Kind::Int4,
        "boolean" => Kind::Bool,
        "double precision" | "real" => Kind::Real,
        "text" | "character varying" | "character" => Kind::Text,
        "bytea" => Kind::Bytes,
        other => bail!("a column of type {other} cannot be copied yet"),
    })
}

/// The directory's change log (not copied).
const CHANGE_LOG: &str = "directory_changes";

/// Quotes an identifier read from the catalogue.
fn q(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl SqlStore {
    /// The tables to copy, with their columns and the tables they refer to.
    async fn tables(&self) -> anyhow::Result<Vec<Table>> {
        let mut tables = Vec::new();
        match &self.db {
            Db::Sqlite { reader, .. } => {
                let all: Vec<(String, Option<String>)> = sqlx::query_as(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
                     AND name <> '_sqlx_migrations' ORDER BY name",
                )
                .fetch_all(reader)
                .await?;
                // A virtual table (the full-text index) and its shadow tables are rebuilt
                // by the target's own triggers or indexes.
                let virtual_tables: Vec<String> = all
                    .iter()
                    .filter(|(_, sql)| {
                        sql.as_deref().is_some_and(|s| s.to_ascii_uppercase().starts_with("CREATE VIRTUAL"))
                    })
                    .map(|(n, _)| n.clone())
                    .collect();
                for (name, _) in all {
                    if virtual_tables.iter().any(|v| name == *v || name.starts_with(&format!("{v}_"))) {
                        continue;
                    }
                    let cols: Vec<(String, String)> =
                        sqlx::query_as("SELECT name, type FROM pragma_table_info($1) ORDER BY cid")
                            .bind(&name)
                            .fetch_all(reader)
                            .await?;
                    let parents: Vec<String> = sqlx::query_scalar("SELECT \"table\" FROM pragma_foreign_key_list($1)")
                        .bind(&name)
                        .fetch_all(reader)
                        .await?;
                    tables.push(Table {
                        columns: cols.into_iter().map(|(c, t)| (c, sqlite_kind(&t))).collect(),
                        parents: parents.into_iter().filter(|p| *p != name).collect(),
                        name,
                    });
                }
            }
            Db::Postgres(pool) => {
                let names: Vec<String> = sqlx::query_scalar(
                    "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() \
                     AND table_type = 'BASE TABLE' AND table_name <> '_sqlx_migrations' ORDER BY table_name",
                )
                .fetch_all(pool)
                .await?;
                let fks: Vec<(String, String)> = sqlx::query_as(
                    "SELECT c.relname::text, p.relname::text FROM pg_constraint k \
                     JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid \
                     JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE k.contype = 'f' AND n.nspname = current_schema()",
                )
                .fetch_all(pool)
                .await?;
                for name in names {
                    let cols: Vec<(String, String)> = sqlx::query_as(
                        "SELECT column_name::text, data_type::text FROM information_schema.columns \
                         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
                    )
                    .bind(&name)
                    .fetch_all(pool)
                    .await?;
                    let mut columns = Vec::new();
                    for (c, t) in cols {
                        columns.push((c.clone(), pg_kind(&t).with_context(|| format!("{name}.{c}"))?));
                    }
                    let parents =
                        fks.iter().filter(|(c, p)| *c == name && *p != name).map(|(_, p)| p.clone()).collect();
                    tables.push(Table { name, columns, parents });
                }
            }
        }
        Ok(tables)
    }

    async fn row_count(&self, table: &str) -> anyhow::Result<i64> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {}", q(table)));
        Ok(match &self.db {
            Db::Sqlite { reader, .. } => sqlx::query_scalar(sql).fetch_one(reader).await?,
            Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await?,
        })
    }
}

/// Parents before children; an order that cannot be found (a cycle) is an error.
fn order(mut tables: Vec<Table>) -> anyhow::Result<Vec<Table>> {
    let names: BTreeSet<String> = tables.iter().map(|t| t.name.clone()).collect();
    let mut done = BTreeSet::new();
    let mut ordered = Vec::new();
    while !tables.is_empty() {
        let ready: Vec<usize> = (0..tables.len())
            .filter(|&i| tables[i].parents.iter().all(|p| done.contains(p) || !names.contains(p)))
            .collect();
        ensure!(!ready.is_empty(), "the tables' foreign keys form a cycle");
        for i in ready.into_iter().rev() {
            let t = tables.remove(i);
            done.insert(t.name.clone());
            ordered.push(t);
        }
    }
    Ok(ordered)
}

fn read_sqlite(row: &SqliteRow, kinds: &[Kind]) -> anyhow::Result<Vec<Val>> {
    let mut out = Vec::with_capacity(kinds.len());
    for (i, k) in kinds.iter().enumerate() {
        out.push(match k {
            Kind::Int | Kind::Int4 => row.try_get::<Option<i64>, _>(i)?.map_or(Val::Null, Val::Int),
            Kind::Bool => row.try_get::<Option<bool>, _>(i)?.map_or(Val::Null, Val::Bool),
            Kind::Real => row.try_get::<Option<f64>, _>(i)?.map_or(Val::Null, Val::Real),
            Kind::Text => row.try_get::<Option<String>, _>(i)?.map_or(Val::Null, Val::Text),
            Kind::Bytes => row.try_get::<Option<Vec<u8>>, _>(i)?.map_or(Val::Null, Val::Bytes),
        });
    }
    Ok(out)
}

fn read_pg(row: &PgRow, kinds: &[Kind]) -> anyhow::Result<Vec<Val>> {
    let mut out = Vec::with_capacity(kinds.len());
    for (i, k) in kinds.iter().enumerate() {
        out.push(match k {
            Kind::Int => row.try_get::<Option<i64>, _>(i)?.map_or(Val::Null, Val::Int),
            Kind::Int4 => row.try_get::<Option<i32>, _>(i)?.map_or(Val::Null, |v| Val::Int(v.into())),
            Kind::Bool => row.try_get::<Option<bool>, _>(i)?.map_or(Val::Null, Val::Bool),
            Kind::Real => row.try_get::<Option<f64>, _>(i)?.map_or(Val::Null, Val::Real),
            Kind::Text => row.try_get::<Option<String>, _>(i)?.map_or(Val::Null, Val::Text),
            Kind::Bytes => row.try_get::<Option<Vec<u8>>, _>(i)?.map_or(Val::Null, Val::Bytes),
        });
    }
    Ok(out)
}

/// Binds `v` as the target column's kind expects it.
macro_rules! push_val {
    ($row:expr, $v:expr, $kind:expr) => {{
        let (v, kind): (&Val, Kind) = ($v, $kind);
        match (kind, v) {
            (Kind::Int, Val::Int(i)) => {
                $row.push_bind(*i);
            }
            (Kind::Int, Val::Bool(b)) => {
                $row.push_bind(i64::from(*b));
            }
            (Kind::Int4, Val::Int(i)) => {
                $row.push_bind(i32::try_from(*i).context("a value too large for an integer column")?);
            }
            (Kind::Bool, Val::Bool(b)) => {
                $row.push_bind(*b);
            }
            (Kind::Bool, Val::Int(i)) => {
                $row.push_bind(*i != 0);
            }
            (Kind::Real, Val::Real(f)) => {
                $row.push_bind(*f);
            }
            (Kind::Real, Val::Int(i)) => {
                $row.push_bind(*i as f64);
            }
            (Kind::Text, Val::Text(s)) => {
                $row.push_bind(s.clone());
            }
            (Kind::Bytes, Val::Bytes(b)) => {
                $row.push_bind(b.clone());
            }
            (Kind::Int, Val::Null) => {
                $row.push_bind(None::<i64>);
            }
            (Kind::Int4, Val::Null) => {
                $row.push_bind(None::<i32>);
            }
            (Kind::Bool, Val::Null) => {
                $row.push_bind(None::<bool>);
            }
            (Kind::Real, Val::Null) => {
                $row.push_bind(None::<f64>);
            }
            (Kind::Text, Val::Null) => {
                $row.push_bind(None::<String>);
            }
            (Kind::Bytes, Val::Null) => {
                $row.push_bind(None::<Vec<u8>>);
            }
            (kind, v) => bail!("cannot copy {v:?} into a {kind:?} column"),
        }
    }};
}

/// A batch of rows per statement, within both backends' limits on bound values.
fn batch_rows(columns: usize) -> usize {
    (30_000 / columns.max(1)).clamp(1, 1000)
}

/// Runs `userd copy-data`: `from` is the configured database, `to` the empty target.
pub async fn copy_data(from: &str, to: &str) -> anyhow::Result<()> {
    ensure!(from != to, "--to names the configured database itself");
    let source = SqlStore::connect(from).await?;
    source.migrate().await.context("applying migrations to the configured database")?;
    let target = SqlStore::connect(to).await.context("--to")?;
    target.migrate().await.context("applying migrations to the target")?;
    let result = copy(&source, &target).await;
    source.close().await;
    target.close().await;
    let counts = result?;
    let total: i64 = counts.values().sum();
    eprintln!("copied {total} rows in {} tables; every table's row count matches", counts.len());
    if from.starts_with("sqlite:") {
        eprintln!(
            "files and pictures stay where USERD_STORAGE_URL keeps them (by default $USERD_DATA_DIR/files): \
             give the new nodes the same storage, or copy that folder to S3 and set USERD_STORAGE_URL=s3://BUCKET"
        );
    }
    Ok(())
}

async fn copy(source: &SqlStore, target: &SqlStore) -> anyhow::Result<BTreeMap<String, i64>> {
    // The directory's change log is the target's own: its triggers log the copied rows under
    // its versions, which the copied version then replaces, so it is emptied instead (nodes
    // count afresh).
    let tables = order(source.tables().await?.into_iter().filter(|t| t.name != CHANGE_LOG).collect())?;
    let target_tables: BTreeMap<String, Table> =
        target.tables().await?.into_iter().map(|t| (t.name.clone(), t)).collect();
    let referenced: BTreeSet<&String> = target_tables.values().flat_map(|t| t.parents.iter()).collect();
    // The migrations fill a few one-row tables (the directory's total); anything else in
    // the target means it is not empty.
    let mut seeded = BTreeSet::new();
    for t in &tables {
        let theirs = target_tables.get(&t.name).with_context(|| format!("the target has no table {}", t.name))?;
        for (c, _) in &t.columns {
            ensure!(theirs.columns.iter().any(|(tc, _)| tc == c), "the target's {} has no column {c}", t.name);
        }
        let n = target.row_count(&t.name).await?;
        if n > 0 {
            ensure!(
                n == 1 && theirs.parents.is_empty() && !referenced.contains(&t.name),
                "the target database is not empty: {} has {n} rows; copy-data writes only into an empty database",
                t.name
            );
            seeded.insert(t.name.clone());
        }
    }
    // Seeded tables go last, after the rows their triggers count.
    let (last, first): (Vec<Table>, Vec<Table>) = tables.into_iter().partition(|t| seeded.contains(&t.name));
    let tables: Vec<Table> = first.into_iter().chain(last).collect();

    let mut counts = BTreeMap::new();
    match (&source.db, &target.db) {
        (Db::Sqlite { reader, .. }, Db::Postgres(pool)) => {
            let mut read = reader.begin().await?;
            let mut write = pool.begin().await?;
            for name in &seeded {
                sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {}", q(name)))).execute(&mut *write).await?;
            }
            for t in &tables {
                let kinds: Vec<Kind> = t.columns.iter().map(|(_, k)| *k).collect();
                let target_kinds = target_kinds(t, &target_tables)?;
                let mut rows = sqlx::query(sqlx::AssertSqlSafe(select(t))).fetch(&mut *read);
                let mut batch = Vec::new();
                let mut n = 0i64;
                while let Some(row) = rows.try_next().await? {
                    batch.push(read_sqlite(&row, &kinds)?);
                    if batch.len() == batch_rows(kinds.len()) {
                        n += insert_pg(&mut write, t, &target_kinds, &std::mem::take(&mut batch)).await?;
                        progress(&t.name, n);
                    }
                }
                n += insert_pg(&mut write, t, &target_kinds, &batch).await?;
                counts.insert(t.name.clone(), n);
                eprintln!("{}: {n} rows", t.name);
            }
            reset_sequences(&mut write).await?;
            drop(read);
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {CHANGE_LOG}"))).execute(&mut *write).await?;
            write.commit().await?;
        }
        (Db::Postgres(src), Db::Postgres(pool)) => {
            let mut read = src.begin().await?;
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *read).await?;
            let mut write = pool.begin().await?;
            for name in &seeded {
                sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {}", q(name)))).execute(&mut *write).await?;
            }
            for t in &tables {
                let kinds: Vec<Kind> = t.columns.iter().map(|(_, k)| *k).collect();
                let target_kinds = target_kinds(t, &target_tables)?;
                let mut rows = sqlx::query(sqlx::AssertSqlSafe(select(t))).fetch(&mut *read);
                let mut batch = Vec::new();
                let mut n = 0i64;
                while let Some(row) = rows.try_next().await? {
                    batch.push(read_pg(&row, &kinds)?);
                    if batch.len() == batch_rows(kinds.len()) {
                        n += insert_pg(&mut write, t, &target_kinds, &std::mem::take(&mut batch)).await?;
                        progress(&t.name, n);
                    }
                }
                n += insert_pg(&mut write, t, &target_kinds, &batch).await?;
                counts.insert(t.name.clone(), n);
                eprintln!("{}: {n} rows", t.name);
            }
            reset_sequences(&mut write).await?;
            drop(read);
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {CHANGE_LOG}"))).execute(&mut *write).await?;
            write.commit().await?;
        }
        (src, Db::Sqlite { writer, .. }) => {
            let mut write = writer.begin().await?;
            for name in &seeded {
                sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {}", q(name)))).execute(&mut *write).await?;
            }
            for t in &tables {
                let kinds: Vec<Kind> = t.columns.iter().map(|(_, k)| *k).collect();
                let target_kinds = target_kinds(t, &target_tables)?;
                // Into SQLite (a rare direction, for tests and small moves): read a table at once.
                let rows: Vec<Vec<Val>> = match src {
                    Db::Sqlite { reader, .. } => {
                        let rows = sqlx::query(sqlx::AssertSqlSafe(select(t))).fetch_all(reader).await?;
                        rows.iter().map(|r| read_sqlite(r, &kinds)).collect::<anyhow::Result<_>>()?
                    }
                    Db::Postgres(pool) => {
                        let rows = sqlx::query(sqlx::AssertSqlSafe(select(t))).fetch_all(pool).await?;
                        rows.iter().map(|r| read_pg(r, &kinds)).collect::<anyhow::Result<_>>()?
                    }
                };
                let mut n = 0i64;
                for chunk in rows.chunks(batch_rows(kinds.len())) {
                    n += insert_sqlite(&mut write, t, &target_kinds, chunk).await?;
                    progress(&t.name, n);
                }
                counts.insert(t.name.clone(), n);
                eprintln!("{}: {n} rows", t.name);
            }
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {CHANGE_LOG}"))).execute(&mut *write).await?;
            write.commit().await?;
        }
    }
    // The check: what the target holds now is what was read, table by table.
    for (name, n) in &counts {
        let there = target.row_count(name).await?;
        ensure!(there == *n, "{name}: {n} rows copied but the target holds {there}");
    }
    Ok(counts)
}

fn progress(table: &str, n: i64) {
    if n % 100_000 < 1000 && n >= 100_000 {
        eprintln!("{table}: {n} rows so far");
    }
}

fn select(t: &Table) -> String {
    let cols: Vec<String> = t.columns.iter().map(|(c, _)| q(c)).collect();
    format!("SELECT {} FROM {}", cols.join(", "), q(&t.name))
}

fn target_kinds(t: &Table, target: &BTreeMap<String, Table>) -> anyhow::Result<Vec<Kind>> {
    let theirs = target.get(&t.name).with_context(|| format!("the target has no table {}", t.name))?;
    t.columns
        .iter()
        .map(|(c, _)| {
            theirs.columns.iter().find(|(tc, _)| tc == c).map(|(_, k)| *k).with_context(|| format!("{}.{c}", t.name))
        })
        .collect()
}

fn insert_head(t: &Table) -> String {
    let cols: Vec<String> = t.columns.iter().map(|(c, _)| q(c)).collect();
    format!("INSERT INTO {} ({}) ", q(&t.name), cols.join(", "))
}

async fn insert_pg(
    tx: &mut sqlx::Transaction<'static, Postgres>,
    t: &Table,
    kinds: &[Kind],
    rows: &[Vec<Val>],
) -> anyhow::Result<i64> {
    if rows.is_empty() {
        return Ok(0);
    }
    let mut qb = QueryBuilder::<Postgres>::new(insert_head(t));
    let mut failed = None;
    qb.push_values(rows, |mut row, values| {
        let r: anyhow::Result<()> = (|| {
            for (v, k) in values.iter().zip(kinds) {
                push_val!(row, v, *k);
            }
            Ok(())
        })();
        if let Err(e) = r {
            failed.get_or_insert(e);
        }
    });
    if let Some(e) = failed {
        return Err(e.context(format!("copying {}", t.name)));
    }
    let done = qb.build().execute(&mut **tx).await.with_context(|| format!("copying {}", t.name))?;
    Ok(i64::try_from(done.rows_affected()).unwrap_or(i64::MAX))
}

async fn insert_sqlite(
    tx: &mut sqlx::Transaction<'static, Sqlite>,
    t: &Table,
    kinds: &[Kind],
    rows: &[Vec<Val>],
) -> anyhow::Result<i64> {
    if rows.is_empty() {
        return Ok(0);
    }
    let mut qb = QueryBuilder::<Sqlite>::new(insert_head(t));
    let mut failed = None;
    qb.push_values(rows, |mut row, values| {
        let r: anyhow::Result<()> = (|| {
            for (v, k) in values.iter().zip(kinds) {
                push_val!(row, v, *k);
            }
            Ok(())
        })();
        if let Err(e) = r {
            failed.get_or_insert(e);
        }
    });
    if let Some(e) = failed {
        return Err(e.context(format!("copying {}", t.name)));
    }
    let done = qb.build().execute(&mut **tx).await.with_context(|| format!("copying {}", t.name))?;
    Ok(i64::try_from(done.rows_affected()).unwrap_or(i64::MAX))
}

/// Moves every identity or serial sequence past the largest copied id, so the next row
/// the target makes does not collide with a copied one.
async fn reset_sequences(tx: &mut sqlx::Transaction<'static, Postgres>) -> anyhow::Result<()> {
    let columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND (is_identity = 'YES' OR column_default LIKE 'nextval(%')",
    )
    .fetch_all(&mut **tx)
    .await?;
    for (table, column) in columns {
        let sql = format!(
            "SELECT setval(pg_get_serial_sequence($1, $2), COALESCE((SELECT MAX({}) FROM {}), 0) + 1, false)",
            q(&column),
            q(&table)
        );
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(q(&table)).bind(&column).execute(&mut **tx).await?;
    }
    Ok(())
}
