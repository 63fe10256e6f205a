//! Scalar functions that SQL cannot express cleanly. Each is one file; business rules stay in
//! the SQL that calls them.

pub mod bucket;
pub(crate) mod fields;
pub mod fix;
pub(crate) mod strings;

use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::SessionContext;

/// Register every ordertrail UDF with `ctx`.
pub fn register_all(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::from(bucket::Bucket::new()));
    ctx.register_udf(ScalarUDF::from(fix::FixTag::new()));
    ctx.register_udf(ScalarUDF::from(fix::FixTags::new()));
    ctx.register_udf(ScalarUDF::from(fix::FixError::new()));
    ctx.register_udf(ScalarUDF::from(fields::WithFieldNames::new()));
}
