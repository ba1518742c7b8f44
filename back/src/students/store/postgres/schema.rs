//! The schema, created or migrated at start in one transaction under an advisory lock (several
//! backs starting together take turns), its version in `racontemoi_schema`; and the
//! `STUDENTS_MAX` bookkeeping.
//!
//! Tables (version 2):
//! - `students`: `id` (identity: the order of creation, and the REST cursors), `name` (UNIQUE:
//!   the database refuses a duplicate), `age` (0 to 150), `legacy_age` (how the legacy file wrote
//!   the age when it was not the usual string: `13` or `"012"`; NULL otherwise), `rev` (the row
//!   version: from the sequence `students_rev`, by default at an INSERT and by the trigger
//!   `students_new_rev` at every UPDATE, so no two row versions ever share one; the legacy list's
//!   cache in `mod.rs` is keyed on the count and the XOR of the revs' hashes);
//! - `student_quota`: one row, `id_limit`, the highest `id` a create may take without counting.
//!   A create (`CREATE` in `mod.rs`) takes its id from the identity's sequence and inserts only
//!   when it is at most `id_limit`: it reads that row and writes none, so writers never meet on
//!   it. Otherwise `create_counted` locks `students` (SHARE ROW EXCLUSIVE: it waits for every
//!   write in flight to commit, and holds new ones off), counts the students (`count`), refuses
//!   at the limit, or inserts (id `i`) and sets `id_limit = i + max - count - 1`. Every later
//!   create takes a new, higher id, so at most `max - count - 1` more fit under that limit: the
//!   students never exceed `STUDENTS_MAX`, and a refusal is decided on an exact count. Each count
//!   gives a limit at least as high as the one before (ids grow at least as fast as the count), so
//!   a create that read the previous one is still within bounds. Deletes give nothing back until
//!   the next count sees them; `import` sets the limit to 0 (count at the next create).
//!
//! Version 1 (never released) had no `rev` and kept the allowance in 128 rows that every create
//! updated (`student_allowance`): a row update, its WAL and its lock per create, 20 to 30 % of
//! PostgreSQL's work for a create. Version 2 adds `rev` and replaces that table by the quota.

use tokio_postgres::Client;

use crate::error::chain;

/// The schema version this back writes and reads.
pub(crate) const VERSION: i32 = 2;
/// `pg_advisory_xact_lock` key of the migrations ("raconte1").
const LOCK_KEY: i64 = 0x7261_636f_6e74_6531;

/// Each version's statements, in order.
const MIGRATIONS: [(i32, &str); 2] = [
    (
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
    ),
    // The row version of the legacy list's cache: every row gets one now; from then on an
    // INSERT takes the next by default and an UPDATE (the back's, or one by hand) by the
    // trigger. The quota of ids replaces the allowance rows (the first create counts).
    (
        2,
        "CREATE SEQUENCE students_rev AS bigint;
     ALTER TABLE students ADD COLUMN rev bigint;
     UPDATE students SET rev = nextval('students_rev');
     ALTER TABLE students ALTER COLUMN rev SET DEFAULT nextval('students_rev'),
         ALTER COLUMN rev SET NOT NULL;
     ALTER SEQUENCE students_rev OWNED BY students.rev;
     COMMENT ON COLUMN students.rev IS
         'racontemoi: the row version, never reused (sequence students_rev: by default at INSERT, by the trigger students_new_rev at UPDATE); never set it by hand';
     CREATE FUNCTION students_new_rev() RETURNS trigger LANGUAGE plpgsql AS
         'BEGIN NEW.rev := nextval(''students_rev''); RETURN NEW; END';
     CREATE TRIGGER students_new_rev BEFORE UPDATE ON students
         FOR EACH ROW EXECUTE FUNCTION students_new_rev();
     CREATE TABLE student_quota (
         one boolean PRIMARY KEY DEFAULT true CHECK (one),
         id_limit bigint NOT NULL
     );
     COMMENT ON TABLE student_quota IS
         'racontemoi: creates may take ids up to id_limit before STUDENTS_MAX is counted again';
     INSERT INTO student_quota (id_limit) VALUES (0);
     DROP TABLE student_allowance;",
    ),
];

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

/// A create whose id was beyond the quota's limit: one transaction that counts exactly (see the
/// top).
pub(crate) async fn create_counted(
    client: &mut Client,
    name: &str,
    age: u8,
    max: i64,
) -> Result<Counted, tokio_postgres::Error> {
    let transaction = client.transaction().await?;
    transaction.batch_execute("LOCK TABLE students IN SHARE ROW EXCLUSIVE MODE").await?;
    // The same order of refusals as the file store: a duplicate before a full store.
    if !transaction.query("SELECT 1 FROM students WHERE name = $1", &[&name]).await?.is_empty() {
        return Ok(Counted::Exists);
    }
    let count: i64 = transaction.query_one("SELECT count(*) FROM students", &[]).await?.get(0);
    if count >= max {
        return Ok(Counted::Full);
    }
    let id: i64 = transaction
        .query_one("INSERT INTO students (name, age) VALUES ($1, $2) RETURNING id", &[&name, &i16::from(age)])
        .await?
        .get(0);
    transaction.execute("UPDATE student_quota SET id_limit = $1", &[&id.saturating_add(max - count - 1)]).await?;
    transaction.commit().await?;
    Ok(Counted::Created)
}
