//! `ordertrail load`: put a fixture directory's CSV files into a lake's raw tables.

use crate::args::LoadArgs;
use crate::error::{EXIT_OK, Result};
use crate::fixtures;
use crate::lake::Lake;

use crate::project::fixtures_dir;

pub fn run(args: LoadArgs) -> Result<i32> {
    let project = args.sql.project()?;
    let lake = Lake::new(&args.lake);
    lake.ensure_writable()?;
    let dir = fixtures_dir(&args.fixtures);
    let loaded = fixtures::load_dir(&lake, &project.sources, &dir)?;
    for table in loaded {
        for (date, written) in table.dates {
            println!("{:<24} {date} {:>8} rows", table.table, written.rows);
        }
    }
    Ok(EXIT_OK)
}
