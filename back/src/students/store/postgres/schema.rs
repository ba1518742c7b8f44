//! The schema: its version read at start, and DDL run only when a migration is due, in one
//! transaction under an advisory lock (several backs starting together take turns), without the
//! request `statement_timeout`; the version in `racontemoi_schema`. So a role that may only read
//! and write the tables (docs/students.md gives its GRANTs) starts once the owner has migrated.
//! The server must be PostgreSQL `MIN_SERVER` or later (`bit_xor`, the list cache's key).
//!
//! Tables (version 3):
//! - `students`: `id` (identity: the order of creation, and the REST cursors), `name` (UNIQUE:
//!   the database refuses a duplicate), `age` (0 to 150), `legacy_age` (how the legacy file wrote
//!   the age when it was not the usual string: `13` or `"012"`; NULL otherwise), `rev` (the row
//!   version: from the sequence `students_rev`, by default at an INSERT and by the trigger
//!   `students_new_rev` at every UPDATE, so no two row versions ever share one; the legacy list's
//!   cache, `list_cache.rs`, is keyed on the count and the XOR of the revs' hashes). The
//!   sequence belongs to no column (version 3), so a TRUNCATE ... RESTART IDENTITY leaves it going.
//! - `student_quota`: one row, `id_limit` and `counted_max`, `STUDENTS_MAX`'s bookkeeping
//!   (`quota.rs`); the trigger `students_truncated` resets it after a TRUNCATE.
//!
//! Version 1 (never released) had no `rev` and kept the allowance in 128 rows that every create
//! updated (`student_allowance`): a row update, its WAL and its lock per create, 20 to 30 % of
//! PostgreSQL's work for a create. Version 2 adds `rev` and replaces that table by the quota.
//! Version 3 makes the sequences and the quota hold when sequences go back (TRUNCATE, a restore),
//! and when `STUDENTS_MAX` is lowered.

use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

use crate::error::chain;

/// The schema version this back writes and reads.
pub(crate) const VERSION: i32 = 3;
/// The oldest PostgreSQL this back runs on (`server_version_num`), and its name.
pub(crate) const MIN_SERVER: (i32, &str) = (140_000, "14");
/// The schema's version in the database (0 before the first migration).
const VERSION_NOW: &str = "SELECT coalesce(max(version), 0) FROM racontemoi_schema";
/// `pg_advisory_xact_lock` key of the migrations ("raconte1").
const LOCK_KEY: i64 = 0x7261_636f_6e74_6531;

/// Each version's statements, in order.
const MIGRATIONS: [(i32, &str); 3] = [
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
    // Sequences that go back: the rev sequence no longer restarts with the identity (TRUNCATE
    // ... RESTART IDENTITY), a TRUNCATE resets the quota, and the quota remembers the maximum it
    // was counted under (a lower STUDENTS_MAX counts again).
    (
        3,
        "ALTER SEQUENCE students_rev OWNED BY NONE;
     ALTER TABLE student_quota ADD COLUMN counted_max bigint NOT NULL DEFAULT 0;
     COMMENT ON COLUMN student_quota.counted_max IS
         'racontemoi: the STUDENTS_MAX id_limit was counted under; a back with a lower one counts again';
     UPDATE student_quota SET id_limit = 0;
     CREATE FUNCTION students_truncated() RETURNS trigger LANGUAGE plpgsql AS
         'BEGIN UPDATE student_quota SET id_limit = 0; RETURN NULL; END';
     CREATE TRIGGER students_truncated AFTER TRUNCATE ON students
         FOR EACH STATEMENT EXECUTE FUNCTION students_truncated();",
    ),
];

/// Why the schema is not usable.
#[derive(Debug)]
pub(crate) enum Problem {
    /// This server can never serve this back (too old, or a newer schema): the one line to say.
    Unfit(String),
    /// It failed this time (the connection, a lock, a privilege): why.
    Failed(String),
}

impl From<tokio_postgres::Error> for Problem {
    fn from(error: tokio_postgres::Error) -> Self {
        Problem::Failed(format!("cannot create the schema: {}", chain(&error)))
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Unfit(line) | Problem::Failed(line) => f.write_str(line),
        }
    }
}

/// Refuses a server older than `MIN_SERVER`, in one line.
pub(crate) fn check_server(version_num: i32, version: &str) -> Result<(), Problem> {
    if version_num < MIN_SERVER.0 {
        return Err(Problem::Unfit(format!(
            "student database runs PostgreSQL {version}, older than {}, the oldest this back runs on: upgrade it",
            MIN_SERVER.1
        )));
    }
    Ok(())
}

/// The version of the schema in the database (0: none yet), read without any DDL.
async fn version(client: &Client) -> Result<i32, tokio_postgres::Error> {
    match client.query_one(VERSION_NOW, &[]).await {
        Ok(row) => Ok(row.get(0)),
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => Ok(0),
        Err(e) => Err(e),
    }
}

fn newer(current: i32) -> Problem {
    Problem::Unfit(format!(
        "the student database's schema is version {current}, newer than this back's ({VERSION}): run a newer back"
    ))
}

/// Checks the server, reads the schema's version, and creates or migrates it only when that is
/// due; the version it is at.
pub(crate) async fn migrate(client: &mut Client) -> Result<i32, Problem> {
    let row = client
        .query_one("SELECT current_setting('server_version_num')::int, current_setting('server_version')", &[])
        .await?;
    check_server(row.get(0), row.get(1))?;
    let current = version(client).await?;
    if current > VERSION {
        return Err(newer(current));
    }
    if current == VERSION {
        return Ok(VERSION);
    }
    let transaction = client.transaction().await?;
    // Migrations may take long on a large table: the request timeout does not apply.
    transaction.batch_execute("SET LOCAL statement_timeout = 0").await?;
    transaction.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY]).await?;
    transaction
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS racontemoi_schema (
                 version integer PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await?;
    // Another back may have migrated while this one waited for the lock.
    let current: i32 = transaction.query_one(VERSION_NOW, &[]).await?.get(0);
    if current > VERSION {
        return Err(newer(current));
    }
    for (version, statements) in MIGRATIONS.iter().filter(|(version, _)| *version > current) {
        transaction.batch_execute(statements).await?;
        transaction.execute("INSERT INTO racontemoi_schema (version) VALUES ($1)", &[version]).await?;
    }
    transaction.commit().await?;
    Ok(VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_older_than_the_minimum_are_refused_in_one_line() {
        assert!(check_server(140_000, "14.0").is_ok());
        assert!(check_server(150_018, "15.18 (Debian 15.18-0+deb12u1)").is_ok());
        let Err(Problem::Unfit(line)) = check_server(130_016, "13.16") else { panic!("13 was accepted") };
        assert_eq!(
            line,
            "student database runs PostgreSQL 13.16, older than 14, the oldest this back runs on: upgrade it"
        );
        assert!(!line.contains('\n'));
    }
}
