//! The raw source tables, declared once in `sql/sources.sql`.
//!
//! That file holds one MySQL `CREATE TABLE <db>.<table> (...)` per replica table ordertrail reads.
//! This module parses it into [`SourceTable`]s with Arrow schemas; the fixture loader, the lake
//! and (later) replica sync all type raw data from here. It does not read any data.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{RecordBatch, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, NaiveDate};
use datafusion::sql::sqlparser::ast::{ColumnOption, Statement, TableConstraint};
use datafusion::sql::sqlparser::dialect::MySqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

use crate::error::{Error, IoContext, Result};

/// The time zone every raw timestamp is stored in.
pub const UTC: &str = "UTC";

/// One replica table: where it comes from and how its rows are typed.
#[derive(Debug, Clone)]
pub struct SourceTable {
    /// Source database (service), e.g. `inbound`.
    pub db: String,
    /// Table name within the database, e.g. `fix_msg`.
    pub name: String,
    pub columns: Vec<SourceColumn>,
    /// Primary key column, if declared.
    pub key: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SourceColumn {
    pub name: String,
    /// The MySQL type as written, e.g. `decimal(18,6)`.
    pub sql_type: String,
    pub data_type: DataType,
    pub nullable: bool,
}

impl SourceTable {
    /// `db.table`, the name stages use.
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.db, self.name)
    }

    pub fn schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.columns
                .iter()
                .map(|c| Field::new(&c.name, c.data_type.clone(), c.nullable))
                .collect::<Vec<_>>(),
        ))
    }

    /// The column that decides which trade date (partition) a row belongs to.
    pub fn time_column(&self) -> &str {
        "create_time"
    }

    /// Each row's trade date: the UTC date of its time column (`None` where it is NULL).
    pub fn row_dates(&self, batch: &RecordBatch) -> Result<Vec<Option<NaiveDate>>> {
        let column = self.time_column();
        let idx = batch
            .schema()
            .index_of(column)
            .map_err(|_| Error::input(format!("{} has no {column}", self.qualified_name())))?;
        let times = batch
            .column(idx)
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .ok_or_else(|| {
                Error::input(format!(
                    "{}.{column} must be a datetime column",
                    self.qualified_name()
                ))
            })?;
        Ok(times
            .iter()
            .map(|t| DateTime::from_timestamp_micros(t?).map(|t| t.date_naive()))
            .collect())
    }
}

/// All declared source tables, in file order.
#[derive(Debug, Clone)]
pub struct Sources {
    pub path: PathBuf,
    pub tables: Vec<SourceTable>,
}

impl Sources {
    pub fn load(path: &Path) -> Result<Sources> {
        let text = std::fs::read_to_string(path).at(path)?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Sources> {
        let statements = Parser::parse_sql(&MySqlDialect {}, text).map_err(|e| {
            Error::input_hint(
                format!("{}: {e}", path.display()),
                "sources.sql holds MySQL CREATE TABLE statements only",
            )
        })?;
        let mut tables = Vec::new();
        for statement in statements {
            let Statement::CreateTable(create) = statement else {
                return Err(Error::input(format!(
                    "{}: only CREATE TABLE statements are allowed, found: {statement}",
                    path.display()
                )));
            };
            let parts: Vec<String> = create.name.0.iter().map(|p| p.to_string()).collect();
            let [db, name] = parts.as_slice() else {
                return Err(Error::input_hint(
                    format!(
                        "{}: table {} must be named <db>.<table>",
                        path.display(),
                        create.name
                    ),
                    "write e.g. `create table inbound.fix_msg (...)`",
                ));
            };
            let mut key = None;
            let mut columns = Vec::new();
            for column in &create.columns {
                let sql_type = column.data_type.to_string();
                let data_type = mysql_type_to_arrow(&sql_type).ok_or_else(|| {
                    Error::input(format!(
                        "{}: {db}.{name}.{}: unsupported column type {sql_type}",
                        path.display(),
                        column.name
                    ))
                })?;
                let mut nullable = true;
                for option in &column.options {
                    match &option.option {
                        ColumnOption::NotNull => nullable = false,
                        ColumnOption::PrimaryKey(_) => {
                            nullable = false;
                            key = Some(column.name.value.clone());
                        }
                        _ => {}
                    }
                }
                columns.push(SourceColumn {
                    name: column.name.value.clone(),
                    sql_type,
                    data_type,
                    nullable,
                });
            }
            for constraint in &create.constraints {
                if let TableConstraint::PrimaryKey(pk) = constraint
                    && let Some(first) = pk.columns.first()
                {
                    key = Some(first.to_string());
                }
            }
            if !columns.iter().any(|c| c.name == "create_time") {
                return Err(Error::input_hint(
                    format!("{}: {db}.{name} has no create_time column", path.display()),
                    "every source table needs create_time: it decides the trade date partition",
                ));
            }
            tables.push(SourceTable {
                db: db.clone(),
                name: name.clone(),
                columns,
                key,
            });
        }
        Ok(Sources {
            path: path.to_path_buf(),
            tables,
        })
    }

    pub fn get(&self, qualified: &str) -> Option<&SourceTable> {
        self.tables.iter().find(|t| t.qualified_name() == qualified)
    }
}

/// Map a MySQL column type, as written in DDL or in `information_schema.COLUMNS.COLUMN_TYPE`,
/// to the Arrow type ordertrail stores it as. `None` for types we do not support.
pub fn mysql_type_to_arrow(sql_type: &str) -> Option<DataType> {
    let t = sql_type.trim().to_ascii_lowercase();
    let unsigned = t.contains("unsigned");
    let base = t.split(['(', ' ']).next().unwrap_or("");
    let args: Vec<u32> = t
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(inside, _)| {
            inside
                .split(',')
                .filter_map(|a| a.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let dt = match (base, unsigned) {
        ("tinyint", false) => DataType::Int8,
        ("tinyint", true) => DataType::UInt8,
        ("smallint", false) => DataType::Int16,
        ("smallint", true) => DataType::UInt16,
        ("mediumint" | "int" | "integer", false) => DataType::Int32,
        ("mediumint" | "int" | "integer", true) => DataType::UInt32,
        ("bigint", false) => DataType::Int64,
        ("bigint", true) => DataType::UInt64,
        ("decimal" | "numeric", _) => {
            let precision = *args.first().unwrap_or(&10);
            let scale = *args.get(1).unwrap_or(&0);
            if precision > 38 {
                return None;
            }
            DataType::Decimal128(precision as u8, scale as i8)
        }
        ("datetime" | "timestamp", _) => {
            DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into()))
        }
        ("date", _) => DataType::Date32,
        (
            "char" | "varchar" | "text" | "tinytext" | "mediumtext" | "longtext" | "json" | "enum"
            | "set",
            _,
        ) => DataType::Utf8,
        ("binary" | "varbinary" | "blob" | "tinyblob" | "mediumblob" | "longblob", _) => {
            DataType::Binary
        }
        _ => return None,
    };
    Some(dt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_mysql_types() {
        assert_eq!(
            mysql_type_to_arrow("decimal(18,6)"),
            Some(DataType::Decimal128(18, 6))
        );
        assert_eq!(
            mysql_type_to_arrow("bigint(20) unsigned"),
            Some(DataType::UInt64)
        );
        assert_eq!(
            mysql_type_to_arrow("DATETIME(6)"),
            Some(DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())))
        );
        assert_eq!(mysql_type_to_arrow("enum('a','b')"), Some(DataType::Utf8));
        assert_eq!(mysql_type_to_arrow("geometry"), None);
        assert_eq!(mysql_type_to_arrow("decimal(65,30)"), None);
    }

    #[test]
    fn parses_create_table() {
        let sources = Sources::parse(
            Path::new("s.sql"),
            "create table a.t (id bigint not null primary key, create_time datetime(6) not null, \
             px decimal(18,6) null);",
        )
        .unwrap();
        let t = &sources.tables[0];
        assert_eq!(t.qualified_name(), "a.t");
        assert_eq!(t.key.as_deref(), Some("id"));
        assert!(!t.columns[0].nullable);
        assert!(t.columns[2].nullable);
        assert_eq!(t.columns[2].data_type, DataType::Decimal128(18, 6));
    }

    #[test]
    fn rejects_unqualified_table() {
        let err = Sources::parse(
            Path::new("s.sql"),
            "create table t (create_time datetime(6));",
        )
        .unwrap_err();
        assert!(err.to_string().contains("<db>.<table>"), "{err}");
    }
}
