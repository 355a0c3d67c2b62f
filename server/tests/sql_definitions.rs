//! The SQL functions and triggers the migrations create, checked against
//! `docs/sql-definitions.md`: a function a later migration redefines by copying its whole
//! body has one current definition, and the doc says in which file. Also: no current
//! definition names a pipeline job (triggers mark tables; the job graph decides the jobs).

use guildhall::pipeline::JobName;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A function (`function app.erase_person`) or a trigger (`trigger user_identities_relinked
/// on silver.user_identities`), as the doc names it.
type Entry = String;

/// Where an entry's current definition is: the migration file, and the statement's offset.
#[derive(Clone, Debug)]
struct Definition {
    file: String,
    at: usize,
}

/// The schemas the doc covers.
const SCHEMAS: [&str; 4] = ["app", "silver", "gold", "bronze"];

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

/// Every migration, in the order they apply: (file name, SQL).
fn migrations() -> Vec<(String, String)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repository().join("migrations"))
        .expect("migrations")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            let sql = std::fs::read_to_string(&path).expect("migration");
            (name, sql)
        })
        .collect()
}

/// The SQL with `--` comments blanked out, in lower case (ASCII only: every offset still
/// points at the same place in the file).
fn code_of(sql: &str) -> String {
    sql.lines()
        .map(|line| match line.find("--") {
            Some(at) => format!("{}{}", &line[..at], " ".repeat(line.len() - at)),
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        .to_ascii_lowercase()
}

/// The words of `code` from `at` on: identifiers (with their schema), punctuation skipped.
fn words(code: &str, at: usize) -> impl Iterator<Item = &str> {
    code[at..]
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
        .filter(|word| !word.is_empty())
}

/// Reads every `create [or replace] function|trigger` and `drop function|trigger` in
/// order: the entries that exist after the last migration, with their last definition.
fn current_definitions() -> BTreeMap<Entry, Definition> {
    let mut current = BTreeMap::new();
    for (file, sql) in migrations() {
        let code = code_of(&sql);
        let mut statements: Vec<(usize, &str)> = ["create ", "drop "]
            .iter()
            .flat_map(|verb| code.match_indices(verb))
            // Whole words only (not `recreate `).
            .filter(|(at, _)| !code[..*at].ends_with(|c: char| c.is_alphanumeric() || c == '_'))
            .collect();
        statements.sort();
        for (at, verb) in statements {
            let mut rest = words(&code, at).skip(1).peekable();
            if rest.peek() == Some(&"or") {
                rest.next();
                rest.next(); // replace
            }
            let Some(kind) = rest.next() else { continue };
            if kind != "function" && kind != "trigger" {
                continue;
            }
            let mut name = rest.next().unwrap_or_default();
            if verb == "drop " && name == "if" {
                rest.next(); // exists
                name = rest.next().unwrap_or_default();
            }
            let entry = if kind == "function" {
                format!("function {name}")
            } else {
                // A trigger belongs to its table: `... on <schema>.<table>`.
                let table = rest
                    .skip_while(|word| *word != "on")
                    .nth(1)
                    .unwrap_or_default();
                format!("trigger {name} on {table}")
            };
            let schema = match kind {
                "function" => name,
                _ => entry.rsplit(' ').next().unwrap_or_default(),
            }
            .split('.')
            .next()
            .unwrap_or_default();
            if !SCHEMAS.contains(&schema) {
                continue;
            }
            if verb == "create " {
                current.insert(
                    entry,
                    Definition {
                        file: file.clone(),
                        at,
                    },
                );
            } else {
                current.remove(&entry);
            }
        }
    }
    current
}

/// The entries the doc lists: table rows whose first cell is `` `function …` `` or
/// `` `trigger …` ``, with the migration file named in the second cell.
fn documented() -> BTreeMap<Entry, String> {
    let doc = std::fs::read_to_string(repository().join("docs/sql-definitions.md"))
        .expect("docs/sql-definitions.md");
    doc.lines()
        .filter_map(|line| {
            let mut cells = line.strip_prefix('|')?.split('|').map(str::trim);
            let entry = cells.next()?.strip_prefix('`')?.strip_suffix('`')?;
            if !(entry.starts_with("function ") || entry.starts_with("trigger ")) {
                return None;
            }
            let file = cells.next()?.split('`').nth(1)?;
            Some((entry.to_owned(), file.to_owned()))
        })
        .collect()
}

#[test]
fn the_doc_names_the_current_definition_of_every_function_and_trigger() {
    let current = current_definitions();
    let documented = documented();
    let mut problems = Vec::new();
    for (entry, definition) in &current {
        match documented.get(entry) {
            None => problems.push(format!(
                "`{entry}` is missing (its current definition is in {})",
                definition.file
            )),
            Some(file) if *file != definition.file => problems.push(format!(
                "`{entry}`: the doc says {file}, its current definition is in {}",
                definition.file
            )),
            Some(_) => {}
        }
    }
    for entry in documented.keys() {
        if !current.contains_key(entry) {
            problems.push(format!("`{entry}` is listed but no migration creates it"));
        }
    }
    assert!(
        problems.is_empty(),
        "docs/sql-definitions.md is not current:\n{}",
        problems.join("\n")
    );
    // The scan finds what it looks for.
    assert_eq!(
        current
            .get("function silver.merge_persons")
            .map(|d| d.file.as_str()),
        Some("20261205000001_member_data_rights.sql")
    );
    assert!(current.contains_key("trigger user_identities_relinked on silver.user_identities"));
}

/// The body of the definition at `at`: from its statement to the end of its dollar-quoted
/// body.
fn body(sql: &str, at: usize) -> &str {
    let rest = &sql[at..];
    let Some(open) = rest.find('$') else {
        return rest;
    };
    let tag_end = rest[open + 1..]
        .find('$')
        .map_or(open, |end| open + 1 + end);
    let tag = &rest[open..=tag_end];
    let after = &rest[tag_end + 1..];
    let close = after.find(tag).map_or(after.len(), |end| end + tag.len());
    &rest[..tag_end + 1 + close]
}

#[test]
fn no_current_function_names_a_pipeline_job() {
    let sql: BTreeMap<String, String> = migrations().into_iter().collect();
    let mut named = Vec::new();
    for (entry, definition) in current_definitions() {
        if !entry.starts_with("function ") {
            continue;
        }
        let text = body(&sql[&definition.file], definition.at);
        for job in JobName::ALL {
            if text.contains(&format!("'{job}'")) {
                named.push(format!("{entry} ({}) names job {job}", definition.file));
            }
        }
    }
    assert!(
        named.is_empty(),
        "functions mark tables (app.mark_dirty), not jobs:\n{}",
        named.join("\n")
    );
}
