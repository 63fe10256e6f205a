//! `ordertrail init DIR`: a new project (sql/, config/, the fixture days) from the files built
//! into the binary. The binary reads the project it runs in (the working directory, or
//! `--project`), never the checkout it was built from.

use std::path::Path;

use crate::args::InitArgs;
use crate::error::{EXIT_OK, Error, Result};

mod bundled {
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
}

pub fn run(args: InitArgs) -> Result<i32> {
    let written = write_project(&args.dir)?;
    println!(
        "a new ordertrail project in {}: {written} files (sql/, config/, data-fixtures/)\n\
         next: cd {} && ordertrail demo",
        args.dir.display(),
        args.dir.display()
    );
    Ok(EXIT_OK)
}

/// Write the bundled project files under `dir`, which must be empty or new. Returns how many.
pub fn write_project(dir: &Path) -> Result<usize> {
    if dir.exists() {
        let empty = std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .next()
            .is_none();
        if !empty {
            return Err(Error::input_hint(
                format!("{} exists and is not empty", dir.display()),
                "pass a new or empty directory to `ordertrail init`",
            ));
        }
    }
    for (rel, bytes) in bundled::FILES {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))?;
    }
    Ok(bundled::FILES.len())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bundle_holds_a_whole_project() {
        let names: Vec<&str> = super::bundled::FILES.iter().map(|(p, _)| *p).collect();
        for must in [
            "sql/sources.sql",
            "sql/v1/intermediate/lifecycle.sql",
            "sql/v1/checks/overfill.sql",
            "config/ordertrail.toml",
            "data-fixtures/ordertrail.toml",
            "data-fixtures/inbound/fix_msg.csv",
        ] {
            assert!(names.contains(&must), "{must} missing from {names:?}");
        }
    }
}
