//! What the writer needs of a bronze record: its table, its key and its columns. A record
//! lists its columns once ([`BronzeRecord::columns`]); the `COPY` statement and its lines,
//! the insert that skips duplicates, and the JSON kept in the spool and in
//! `bronze.rejected_records` (the record's serde form) all follow from that list.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A record type that lives in a bronze table.
pub trait BronzeRecord: Serialize + DeserializeOwned + Send + Sync + Sized + 'static {
    /// Name of the source, used as the `source` label in metrics and for the spool file.
    const SOURCE: &'static str;

    /// The bronze table (`bronze.<name>`).
    const TABLE: &'static str;

    /// The columns of the table's idempotency key: a row whose key is already stored is
    /// skipped (and counted as a duplicate). Empty: any unique constraint.
    const KEY: &'static str;

    /// The record's columns, in order, each with its name, type and value:
    /// `row.int8("guild_id", Some(self.guild_id)).text("origin", Some("gateway"))`.
    fn columns(&self, row: &mut Row<'_>);

    /// The record as JSON: kept in `bronze.rejected_records` when the database refuses it,
    /// and in the spool while the database is unreachable.
    fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The record back from its JSON (spool replay); `None` when it is not one.
    fn from_json(value: &Value) -> Option<Self> {
        Self::deserialize(value).ok()
    }

    /// The accounts the record names, as `(kind, id)` in the form opted-out accounts are
    /// hashed (`discord`, `steam`, `minecraft`, and `minecraft_name` in lower case; see
    /// [`crate::rules::account_hash`]). The writer checks them against
    /// `app.opted_out_accounts` in the transaction that stores the record. None by default.
    fn accounts(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// Takes out of the record what belongs to opted-out accounts (`opted_out(kind, id)`
    /// says which); `false` drops the whole record. By default the record goes when any of
    /// its [`accounts`](BronzeRecord::accounts) opted out.
    fn keep_without_opted_out(&mut self, opted_out: &dyn Fn(&str, &str) -> bool) -> bool {
        !self.accounts().iter().any(|(kind, id)| opted_out(kind, id))
    }
}

/// The columns of one record being visited: their names and types (for the statements),
/// one `COPY` line, or one more row of the insert's column arrays.
pub struct Row<'a> {
    visit: Visit<'a>,
    column: usize,
}

enum Visit<'a> {
    Names(&'a mut Vec<(&'static str, ColumnType)>),
    Copy(CopyLine<'a>),
    Arrays(&'a mut Vec<ColumnArray>),
}

/// A column's type in PostgreSQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ColumnType {
    Int8,
    Int4,
    Float8,
    Bool,
    Text,
    Timestamptz,
    Jsonb,
    Bytea,
    /// `bigint[]` (sent as its text form: arrays of arrays do not unnest row by row).
    Int8Array,
}

impl ColumnType {
    /// The type of the array bound for this column in the insert.
    fn array_type(self) -> &'static str {
        match self {
            ColumnType::Int8 => "int8[]",
            ColumnType::Int4 => "int4[]",
            ColumnType::Float8 => "float8[]",
            ColumnType::Bool => "bool[]",
            ColumnType::Text | ColumnType::Int8Array => "text[]",
            ColumnType::Timestamptz => "timestamptz[]",
            ColumnType::Jsonb => "jsonb[]",
            ColumnType::Bytea => "bytea[]",
        }
    }
}

/// The values of one column for a batch, bound as one array.
enum ColumnArray {
    Int8(Vec<Option<i64>>),
    Int4(Vec<Option<i32>>),
    Float8(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
    Text(Vec<Option<String>>),
    Timestamptz(Vec<Option<DateTime<Utc>>>),
    Jsonb(Vec<Option<Value>>),
    Bytea(Vec<Option<Vec<u8>>>),
}

/// Appends a value to the column array at `index`, creating it (as `$variant`) on the
/// first row.
macro_rules! push_value {
    ($arrays:expr, $index:expr, $variant:ident, $value:expr) => {{
        if $arrays.len() == $index {
            $arrays.push(ColumnArray::$variant(Vec::new()));
        }
        if let Some(ColumnArray::$variant(values)) = $arrays.get_mut($index) {
            values.push($value);
        }
    }};
}

impl<'a> Row<'a> {
    fn new(visit: Visit<'a>) -> Self {
        Self { visit, column: 0 }
    }

    fn next(&mut self) -> usize {
        self.column += 1;
        self.column - 1
    }

    pub fn int8(&mut self, name: &'static str, value: Option<i64>) -> &mut Self {
        let index = self.next();
        match &mut self.visit {
            Visit::Names(names) => names.push((name, ColumnType::Int8)),
            Visit::Copy(line) => {
                line.value(value);
            }
            Visit::Arrays(arrays) => push_value!(arrays, index, Int8, value),
        }
        self
    }

    pub fn int4(&mut self, name: &'static str, value: Option<i32>) -> &mut Self {
        let index = self.next();
        match &mut self.visit {
            Visit::Names(names) => names.push((name, ColumnType::Int4)),
            Visit::Copy(line) => {
                line.value(value);
            }
            Visit::Arrays(arrays) => push_value!(arrays, index, Int4, value),
        }
        self
    }

    /// A double; `NaN` and infinities are stored as NULL.
    pub fn float8(&mut self, name: &'static str, value: Option<f64>) -> &mut Self {
        let value = value.filter(|v| v.is_finite());
        let index = self.next();
        match &mut self.visit {
            Visit::Names(names) => names.push((name, ColumnType::Float8)),
            Visit::Copy(line) => {
                line.value(value);
            }
            Visit::Arrays(arrays) => push_value!(arrays, index, Float8, value),
        }
        self
    }

    pub fn bool(&mut self, name: &'static str, value: Option<bool>) -> &mut Self {
        let index = self.next();
        match &mut self.visit {
            Visit::Names(names) => names.push((name, ColumnType::Bool)),
            Visit::Copy(line) => {
                line.value(value);
            }
            Visit::Arrays(arrays) => push_value!(arrays, index, Bool, value),
        }
        self
    }

    pub fn text(&mut self, name: &'static str, value: Option<&str>) -> &mut Self {
        let index = self.next();
        match &mut self.visit {
            Visit::Names(names) => names.push((name, ColumnType::Text)),
            Visit::Copy(line) => {
                line.text(value);
            }
            Visit::Arrays(arrays) => push_value!(arrays, index, Text, value.map(str::to_owned)),
        }
        self
    }

    pub fn time(&mut self, name: &'static str, value: Option<DateTime<Utc>>) -> &mut Self {
        let index = self.next();
        match &mut self.visit {
            Visit::Names(names) => names.push((name, ColumnType::Timestamptz)),
            Visit::Copy(line) => {
                line.text(value.map(|at| at.to_rfc3339()).as_deref());
            }
            Visit::Arrays(arrays) => push_value!(arrays, index, Timestamptz, value),
        }
        self
    }

    pub fn json(&mut self, name: &'static str, value: Option<&Value>) -> &mut Self {
        let index = self.next();
        match &mut self.visit {
            Visit::Names(names) => names.push((name, ColumnType::Jsonb)),
            Visit::Copy(line) => {
                line.text(value.map(Value::to_string).as_deref());
            }
            Visit::Arrays(arrays) => push_value!(arrays, index, Jsonb, value.cloned()),
        }
        self
    }

    /// Bytes, any bytes (`bytea`).
    pub fn bytes(&mut self, name: &'static str, value: Option<&[u8]>) -> &mut Self {
        let index = self.next();
        match &mut self.visit {
            Visit::Names(names) => names.push((name, ColumnType::Bytea)),
            Visit::Copy(line) => {
                line.bytes(value);
            }
            Visit::Arrays(arrays) => push_value!(arrays, index, Bytea, value.map(<[u8]>::to_vec)),
        }
        self
    }

    pub fn int8_array(&mut self, name: &'static str, values: &[i64]) -> &mut Self {
        let text = format!(
            "{{{}}}",
            values
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",")
        );
        let index = self.next();
        match &mut self.visit {
            Visit::Names(names) => names.push((name, ColumnType::Int8Array)),
            Visit::Copy(line) => {
                line.text(Some(&text));
            }
            Visit::Arrays(arrays) => push_value!(arrays, index, Text, Some(text)),
        }
        self
    }
}

/// The record type's columns, from one record (their names and types do not depend on it).
fn column_names<R: BronzeRecord>(record: &R) -> Vec<(&'static str, ColumnType)> {
    let mut names = Vec::new();
    record.columns(&mut Row::new(Visit::Names(&mut names)));
    names
}

/// `COPY <table> (<columns>) FROM STDIN (FORMAT text)`.
pub fn copy_statement<R: BronzeRecord>(record: &R) -> String {
    let names: Vec<&str> = column_names(record).iter().map(|(name, _)| *name).collect();
    format!(
        "copy {} ({}) from stdin (format text)",
        R::TABLE,
        names.join(", ")
    )
}

/// Appends the record as one line of `COPY`'s text format (without the line break).
pub fn copy_line<R: BronzeRecord>(record: &R, out: &mut String) {
    record.columns(&mut Row::new(Visit::Copy(CopyLine::new(out))));
}

/// The insert that skips rows whose key is stored: every column bound as one array.
pub fn insert_statement<R: BronzeRecord>(record: &R) -> String {
    let columns = column_names(record);
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    let arrays: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, (_, kind))| format!("${}::{}", i + 1, kind.array_type()))
        .collect();
    let selected: Vec<String> = columns
        .iter()
        .map(|(name, kind)| match kind {
            ColumnType::Int8Array => format!("{name}::int8[]"),
            _ => (*name).to_owned(),
        })
        .collect();
    let conflict = if R::KEY.is_empty() {
        String::new()
    } else {
        format!(" ({})", R::KEY)
    };
    format!(
        "insert into {table} ({names}) select {selected} from unnest({arrays}) as row_({names}) \
         on conflict{conflict} do nothing",
        table = R::TABLE,
        names = names.join(", "),
        selected = selected.join(", "),
        arrays = arrays.join(", "),
    )
}

/// Inserts a batch in one statement, skipping rows whose key is already stored; returns how
/// many rows were new.
pub async fn insert_batch<R: BronzeRecord>(
    conn: &mut sqlx::PgConnection,
    batch: &[R],
) -> sqlx::Result<u64> {
    let Some(first) = batch.first() else {
        return Ok(0);
    };
    let statement = insert_statement(first);
    let mut arrays: Vec<ColumnArray> = Vec::new();
    for record in batch {
        record.columns(&mut Row::new(Visit::Arrays(&mut arrays)));
    }
    let mut query = sqlx::query(&statement);
    for array in arrays {
        query = match array {
            ColumnArray::Int8(values) => query.bind(values),
            ColumnArray::Int4(values) => query.bind(values),
            ColumnArray::Float8(values) => query.bind(values),
            ColumnArray::Bool(values) => query.bind(values),
            ColumnArray::Text(values) => query.bind(values),
            ColumnArray::Timestamptz(values) => query.bind(values),
            ColumnArray::Jsonb(values) => query.bind(values),
            ColumnArray::Bytea(values) => query.bind(values),
        };
    }
    Ok(query.execute(conn).await?.rows_affected())
}

/// One line of `COPY`'s text format being written: fields separated by tabs, `None` as
/// NULL, and the characters the format gives a meaning escaped.
pub struct CopyLine<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> CopyLine<'a> {
    pub(crate) fn new(out: &'a mut String) -> Self {
        Self { out, first: true }
    }

    /// Appends a text field (`None` is NULL).
    pub fn text(&mut self, value: Option<&str>) -> &mut Self {
        if !std::mem::take(&mut self.first) {
            self.out.push('\t');
        }
        let Some(value) = value else {
            self.out.push_str("\\N");
            return self;
        };
        for c in value.chars() {
            match c {
                '\\' => self.out.push_str("\\\\"),
                '\t' => self.out.push_str("\\t"),
                '\n' => self.out.push_str("\\n"),
                '\r' => self.out.push_str("\\r"),
                c => self.out.push(c),
            }
        }
        self
    }

    /// Appends a `bytea` field in hex (`\\x…`: the text format's escape of `\x…`).
    pub fn bytes(&mut self, value: Option<&[u8]>) -> &mut Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        if !std::mem::take(&mut self.first) {
            self.out.push('\t');
        }
        let Some(value) = value else {
            self.out.push_str("\\N");
            return self;
        };
        self.out.reserve(3 + 2 * value.len());
        self.out.push_str("\\\\x");
        for &byte in value {
            self.out.push(char::from(HEX[usize::from(byte >> 4)]));
            self.out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        self
    }

    /// Appends a field from its `Display` form (numbers, booleans).
    pub fn value(&mut self, value: Option<impl std::fmt::Display>) -> &mut Self {
        self.text(value.map(|v| v.to_string()).as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[test]
    fn copy_lines_escape_what_the_text_format_reads_specially() {
        let mut out = String::new();
        CopyLine::new(&mut out)
            .text(Some(""))
            .text(Some("a\tb\\c\nd\re"))
            .text(None)
            .value(Some(42))
            .bytes(Some(&[0, 0xff, b'\\']))
            .bytes(None);
        assert_eq!(out, "\ta\\tb\\\\c\\nd\\re\t\\N\t42\t\\\\x00ff5c\t\\N");
    }

    #[derive(Serialize, Deserialize)]
    struct Sample {
        id: i64,
        at: DateTime<Utc>,
        roles: Vec<i64>,
        ratio: Option<f64>,
    }

    impl BronzeRecord for Sample {
        const SOURCE: &'static str = "sample";
        const TABLE: &'static str = "bronze.samples";
        const KEY: &'static str = "id, at";

        fn columns(&self, row: &mut Row<'_>) {
            row.int8("id", Some(self.id))
                .time("at", Some(self.at))
                .int8_array("roles", &self.roles)
                .float8("ratio", self.ratio);
        }
    }

    fn sample() -> Sample {
        Sample {
            id: 7,
            at: DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default(),
            roles: vec![1, 2],
            ratio: Some(f64::NAN),
        }
    }

    #[test]
    fn the_statements_follow_from_the_one_list_of_columns() {
        assert_eq!(
            copy_statement(&sample()),
            "copy bronze.samples (id, at, roles, ratio) from stdin (format text)"
        );
        assert_eq!(
            insert_statement(&sample()),
            "insert into bronze.samples (id, at, roles, ratio) \
             select id, at, roles::int8[], ratio \
             from unnest($1::int8[], $2::timestamptz[], $3::text[], $4::float8[]) \
             as row_(id, at, roles, ratio) on conflict (id, at) do nothing"
        );
    }

    #[test]
    fn a_copy_line_holds_the_columns_in_order_with_nan_as_null() {
        let mut out = String::new();
        copy_line(&sample(), &mut out);
        assert_eq!(out, "7\t2023-11-14T22:13:20+00:00\t{1,2}\t\\N");
    }

    #[test]
    fn the_spool_json_gives_the_record_back() {
        let json = sample().to_json();
        let back = Sample::from_json(&json).map(|s| (s.id, s.at, s.roles));
        assert_eq!(back, Some((7, sample().at, vec![1, 2])));
    }
}
