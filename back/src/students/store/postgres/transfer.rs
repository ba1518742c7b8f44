//! `back students import FILE [--replace]` and `back students export`: the move from the file
//! store to PostgreSQL and back (docs/students.md). Both read `STUDENTS_DATABASE_URL` (or `_FILE`)
//! and its TLS settings, as the server does, and open one connection of their own.
//!
//! - import: reads a `student_age.json` (flat, or wrapped as earlier releases wrote it, with the
//!   file store's own reader and rules), creates the schema if needed, and in one transaction
//!   (the students table locked against writers) adds every student in the file's order. It
//!   refuses, changing nothing, when one of them is already in the database, unless `--replace`:
//!   then the database's students are replaced by the file's.
//! - export: writes the students in the order of creation, in the original flat format, with the
//!   file store's own writer (`json.dump(indent=4, ensure_ascii=False)`, byte for byte), then one
//!   newline, as the original file ends; so `export` after `import` of it gives its bytes back.

use std::io::Write;
use std::path::Path;

use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

use super::connection::Opener;
use super::{legacy_age, schema, student_ref, tls};
use crate::config::DatabaseConfig;
use crate::error::chain;
use crate::students::store::file::format as json;

/// Runs `import`; the line to print.
pub(crate) fn import(database: &DatabaseConfig, file: &Path, replace: bool) -> Result<String, String> {
    let content = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let students = json::parse(&content).map_err(|e| format!("{} is not a student_age.json: {e}", file.display()))?;
    let mut names = Vec::with_capacity(students.len());
    let mut ages = Vec::with_capacity(students.len());
    let mut legacy = Vec::with_capacity(students.len());
    for student in students.iter() {
        names.push(student.name.to_owned());
        ages.push(i16::from(student.age));
        legacy.push(legacy_age(&student));
    }
    block_on(async {
        let mut client = connect(database).await?;
        schema::migrate(&mut client).await.map_err(|problem| problem.to_string())?;
        let failed = |e: tokio_postgres::Error| format!("import failed, nothing was changed: {}", chain(&e));
        let transaction = client.transaction().await.map_err(failed)?;
        transaction.batch_execute("LOCK TABLE students, student_quota IN EXCLUSIVE MODE").await.map_err(failed)?;
        let replaced = if replace {
            transaction.execute("DELETE FROM students", &[]).await.map_err(failed)?
        } else {
            let present = transaction
                .query("SELECT name FROM students WHERE name = ANY($1) ORDER BY id", &[&names])
                .await
                .map_err(failed)?;
            if !present.is_empty() {
                let shown: Vec<String> = present
                    .iter()
                    .take(5)
                    .map(|row| serde_json::Value::from(row.get::<_, &str>(0)).to_string())
                    .collect();
                return Err(format!(
                    "{} of the file's students are already in the database ({}{}): nothing was imported; \
                     --replace replaces every student of the database with the file's",
                    present.len(),
                    shown.join(", "),
                    if present.len() > shown.len() { ", ..." } else { "" }
                ));
            }
            0
        };
        transaction
            .execute(
                "INSERT INTO students (name, age, legacy_age) \
                 SELECT n, a, l FROM unnest($1::text[], $2::smallint[], $3::text[]) WITH ORDINALITY AS f(n, a, l, i) \
                 ORDER BY i",
                &[&names, &ages, &legacy],
            )
            .await
            .map_err(failed)?;
        // STUDENTS_MAX is counted again at the next create.
        transaction.execute("UPDATE student_quota SET id_limit = 0", &[]).await.map_err(failed)?;
        transaction.commit().await.map_err(failed)?;
        let replaced = if replace { format!(" (replacing {replaced})") } else { String::new() };
        Ok(format!(
            "imported {} students from {} into {}{replaced}",
            names.len(),
            file.display(),
            database.target.describe()
        ))
    })
}

/// Runs `export` into `out`; the number of students written.
pub(crate) fn export(database: &DatabaseConfig, out: &mut impl Write) -> Result<usize, String> {
    let rows = block_on(async {
        let client = connect(database).await?;
        client.query("SELECT name, age, legacy_age FROM students ORDER BY id", &[]).await.map_err(|e| {
            if e.code() == Some(&SqlState::UNDEFINED_TABLE) {
                "the database holds no students table yet (a back or an import creates it)".to_owned()
            } else {
                format!("export failed: {}", chain(&e))
            }
        })
    })?;
    let students =
        rows.iter().map(|row| student_ref(row.get(0), u8::try_from(row.get::<_, i16>(1)).unwrap_or(0), row.get(2)));
    json::write_file(out, students)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write the export: {e}"))?;
    Ok(rows.len())
}

fn block_on<T>(work: impl std::future::Future<Output = Result<T, String>>) -> Result<T, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?
        .block_on(work)
}

/// One connection, opened as the server's pool opens them, without the request
/// `statement_timeout`: an import or export of a million students takes longer than a request.
async fn connect(database: &DatabaseConfig) -> Result<Client, String> {
    let unreachable = |why: String| {
        let explained = tls::explain(&why, &database.target).map(|e| format!("{e}: ")).unwrap_or_default();
        format!("student database {} is unreachable: {explained}{why}", database.target.describe())
    };
    let opener = Opener::new(database)?;
    let (client, _io) = tokio::time::timeout(database.connect_timeout, opener.open())
        .await
        .map_err(|_| unreachable("no answer within STUDENTS_DATABASE_CONNECT_TIMEOUT".into()))?
        .map_err(|e| unreachable(chain(&e)))?;
    client.batch_execute("SET statement_timeout = 0").await.map_err(|e| unreachable(chain(&e)))?;
    Ok(client)
}
