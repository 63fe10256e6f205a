//! `ordertrail validate-cat`: CAT files against the spec; exit 1 on any error.

use crate::args::ValidateCatArgs;
use crate::error::{EXIT_CHECKS_FAILED, EXIT_OK, Result};
use crate::reports::cat_validate::{self, Options};

pub fn run(args: ValidateCatArgs) -> Result<i32> {
    let options = Options {
        submitted_at: args.submitted_at,
        max_file_bytes: args.max_file_bytes,
    };
    let v = cat_validate::validate(&args.paths, &args.context, &options)?;
    if args.json {
        println!("{}", v.to_json());
    } else {
        print!("{}", v.to_text());
    }
    Ok(if v.is_ok() {
        EXIT_OK
    } else {
        EXIT_CHECKS_FAILED
    })
}
