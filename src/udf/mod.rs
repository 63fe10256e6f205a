//! Scalar functions that SQL cannot express cleanly. Each is one file; business rules stay in
//! the SQL that calls them.

pub mod bucket;
pub(crate) mod fields;
pub mod fix;
pub(crate) mod strings;

use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::SessionContext;

/// Every ordertrail UDF.
pub fn all() -> Vec<std::sync::Arc<ScalarUDF>> {
    vec![
        std::sync::Arc::new(ScalarUDF::from(bucket::Bucket::new())),
        std::sync::Arc::new(ScalarUDF::from(fix::FixTag::new())),
        std::sync::Arc::new(ScalarUDF::from(fix::FixTags::new())),
        std::sync::Arc::new(ScalarUDF::from(fix::FixError::new())),
        std::sync::Arc::new(ScalarUDF::from(fields::WithFieldNames::new())),
    ]
}

/// Register every ordertrail UDF with `ctx`.
pub fn register_all(ctx: &SessionContext) {
    for f in all() {
        ctx.register_udf(f.as_ref().clone());
    }
}
