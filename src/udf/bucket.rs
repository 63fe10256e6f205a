//! `bucket(key, n) -> int64`: which of `n` buckets a key falls in, for stages that run in
//! buckets (see `pipeline`, "Bucketed stages").
//!
//! ```sql
//! select chain_id from chain_activity
//! where trade_date = $trade_date and bucket(chain_id, $buckets) = $bucket
//! ```
//!
//! The hash is FNV-1a (64-bit) of the key's UTF-8 bytes, modulo `n`; a NULL key is in bucket 0.
//! It is fixed so that a key's bucket never depends on the machine, the run or the batch. Which
//! bucket a key lands in does not change a stage's output: the runner merges the buckets back
//! in the stage's order, so the partition holds the same rows in the same order however many
//! buckets it used.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Builder};
use arrow::datatypes::DataType;
use datafusion::common::{ScalarValue, exec_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};

use super::strings::{for_each_str, string_types};

/// The bucket of `key` among `n` (`n` > 0).
pub fn bucket_of(key: Option<&str>, n: u64) -> u64 {
    match key {
        None => 0,
        Some(key) => fnv1a(key.as_bytes()) % n,
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME))
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Bucket {
    signature: Signature,
}

impl Bucket {
    pub fn new() -> Self {
        let count_types = [DataType::Int64, DataType::Int32];
        Self {
            signature: Signature::one_of(
                string_types()
                    .into_iter()
                    .chain([DataType::Null])
                    .flat_map(|key| {
                        count_types
                            .iter()
                            .map(move |n| TypeSignature::Exact(vec![key.clone(), n.clone()]))
                    })
                    .collect(),
                Volatility::Immutable,
            ),
        }
    }
}

impl Default for Bucket {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for Bucket {
    fn name(&self) -> &str {
        "bucket"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = match &args.args[1] {
            ColumnarValue::Scalar(s) => match s {
                ScalarValue::Int64(Some(n)) => *n,
                ScalarValue::Int32(Some(n)) => i64::from(*n),
                other => return exec_err!("bucket(key, n): n must be a number, got {other}"),
            },
            ColumnarValue::Array(_) => {
                return exec_err!("bucket(key, n): n must be a constant such as $buckets");
            }
        };
        if n < 1 {
            return exec_err!("bucket(key, n): n must be at least 1, got {n}");
        }
        let keys = args.args[0].to_array(args.number_rows)?;
        let mut out = Int64Builder::with_capacity(keys.len());
        for_each_str(&keys, |k| out.append_value(bucket_of(k, n as u64) as i64))?;
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_fixed_and_cover_every_key() {
        // Pinned: a key's bucket must not change between releases or machines.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(bucket_of(None, 8), 0);
        assert_eq!(bucket_of(Some("ORD-0020"), 1), 0);
        let mut seen = [0usize; 4];
        for i in 0..4000 {
            let b = bucket_of(Some(&format!("ORD-{i:07}")), 4);
            seen[b as usize] += 1;
        }
        // Roughly even: every bucket within 20% of a quarter.
        assert!(seen.iter().all(|&c| (800..1200).contains(&c)), "{seen:?}");
    }
}
