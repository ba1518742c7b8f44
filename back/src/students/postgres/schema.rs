//! The schema, created or migrated at start in one transaction under an advisory lock (several
//! backs starting together take turns), its version in `racontemoi_schema`; and the
//! `STUDENTS_MAX` bookkeeping.
//!
//! Tables (version 1):
//! - `students`: `id` (identity: the order of creation, and the REST cursors), `name` (UNIQUE:
//!   the database refuses a duplicate), `age` (0 to 150), `legacy_age` (how the legacy file wrote
//!   the age when it was not the usual string: `13` or `"012"`; NULL otherwise);
//! - `student_allowance`: `SLOTS` rows of creates still allowed before `STUDENTS_MAX` must be
//!   checked again. A create takes one unit from a random slot in its own statement (`CREATE` in
//!   `mod.rs`): writers rarely meet on one row. When its slot is empty, `create_counted` locks the
//!   table (EXCLUSIVE: it waits for every create holding a unit to commit, and holds new ones off),
//!   counts the students, refuses at the limit, or shares `max - count - 1` among the slots and
//!   inserts. Deletes give nothing back: the next count sees them. So students + allowance never
//!   exceed `STUDENTS_MAX`, and a refusal is decided on an exact count. The table's fillfactor
//!   spreads its 128 rows over about 11 pages, with room on each for the updates (HOT).

use tokio_postgres::Client;

use super::chain;

/// The schema version this back writes and reads.
pub(crate) const VERSION: i32 = 1;
/// Slots of allowance.
pub(crate) const SLOTS: i16 = 128;
/// `pg_advisory_xact_lock` key of the migrations ("raconte1").
const LOCK_KEY: i64 = 0x7261_636f_6e74_6531;

/// Each version's statements, in order.
const MIGRATIONS: [(i32, &str); 1] = [(
    1,
    "CREATE TABLE students (
         id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         name text NOT NULL CONSTRAINT students_name_key UNIQUE
             CHECK (char_length(name) BETWEEN 1 AND 100),
         age smallint NOT NULL CHECK (age BETWEEN 0 AND 150),
         legacy_age text CHECK (legacy_age ~ '^(\"[0-9]{1,3}\"|[0-9]{1,3})$')
     );
     COMMENT ON TABLE students IS 'racontemoi: the student ages, in the order of creation (id)';
     COMMENT ON COLUMN students.legacy_age IS
         'the age as the legacy student_age.json wrote it, when not the usual string: 13 or \"012\"';
     CREATE TABLE student_allowance (
         slot smallint PRIMARY KEY,
         remaining integer NOT NULL CHECK (remaining >= 0)
     ) WITH (fillfactor = 10);
     COMMENT ON TABLE student_allowance IS
         'racontemoi: creates allowed before STUDENTS_MAX is counted again (0: count at the next create)';
     INSERT INTO student_allowance (slot, remaining) SELECT s, 0 FROM generate_series(0, 127) AS s;",
)];

/// Creates or migrates the schema; the version it is at.
pub(crate) async fn migrate(client: &mut Client) -> Result<i32, String> {
    let failed = |e: tokio_postgres::Error| format!("cannot create the schema: {}", chain(&e));
    let transaction = client.transaction().await.map_err(failed)?;
    transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY]).await.map_err(failed)?;
    transaction
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS racontemoi_schema (
                 version integer PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await
        .map_err(failed)?;
    let current: i32 = transaction
        .query_one("SELECT coalesce(max(version), 0) FROM racontemoi_schema", &[])
        .await
        .map_err(failed)?
        .get(0);
    if current > VERSION {
        return Err(format!(
            "the database's schema is version {current}, newer than this back's ({VERSION}): run a newer back"
        ));
    }
    for (version, statements) in MIGRATIONS.iter().filter(|(version, _)| *version > current) {
        transaction.batch_execute(statements).await.map_err(failed)?;
        transaction.execute("INSERT INTO racontemoi_schema (version) VALUES ($1)", &[version]).await.map_err(failed)?;
    }
    transaction.commit().await.map_err(failed)?;
    Ok(VERSION)
}

/// The outcome of a create that counted.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Counted {
    Created,
    Exists,
    Full,
}

/// A create whose slot had no allowance left: one transaction that counts exactly (see the top).
pub(crate) async fn create_counted(
    client: &mut Client,
    name: &str,
    age: u8,
    max: i64,
) -> Result<Counted, tokio_postgres::Error> {
    let transaction = client.transaction().await?;
    transaction.batch_execute("LOCK TABLE student_allowance IN EXCLUSIVE MODE").await?;
    // The same order of refusals as the file store: a duplicate before a full store.
    if !transaction.query("SELECT 1 FROM students WHERE name = $1", &[&name]).await?.is_empty() {
        return Ok(Counted::Exists);
    }
    let count: i64 = transaction.query_one("SELECT count(*) FROM students", &[]).await?.get(0);
    if count >= max {
        return Ok(Counted::Full);
    }
    let free = max - count - 1;
    transaction
        .execute(
            "UPDATE student_allowance SET remaining = \
             ($1::bigint / $2::smallint + CASE WHEN slot < $1::bigint % $2::smallint THEN 1 ELSE 0 END)::integer",
            &[&free.min(i64::from(i32::MAX)), &SLOTS],
        )
        .await?;
    transaction.execute("INSERT INTO students (name, age) VALUES ($1, $2)", &[&name, &i16::from(age)]).await?;
    transaction.commit().await?;
    Ok(Counted::Created)
}
