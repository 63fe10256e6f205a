//! `bucket(key, n) -> int64`: which of `n` buckets a key falls in, for stages that run in
//! buckets (see `pipeline`, "Bucketed stages").
//!
//! ```sql
//! select chain_id from chain_activity
//! where trade_date = $trade_date and bucket(chain_id, $buckets) = $bucket
//! ```
//!
//! The key is a string or an integer (a raw table's `id`); an integer is hashed as its decimal
//! text, so `bucket(42, n) = bucket('42', n)`. The hash is FNV-1a (64-bit) of the key's UTF-8
//! bytes, modulo `n`; a NULL key is in bucket 0.
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

/// The bucket of an integer key: that of its decimal text.
pub fn bucket_of_int(key: i64, n: u64) -> u64 {
    // i64::MIN is 20 characters with its sign.
    let mut text = [0u8; 20];
    let mut at = text.len();
    let mut rest = key.unsigned_abs();
    loop {
        at -= 1;
        text[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if key < 0 {
        at -= 1;
        text[at] = b'-';
    }
    fnv1a(&text[at..]) % n
}

/// Call `f` with the bucket among `n` of each key of `keys` (strings or integers), in row
/// order; `None` for a NULL key (which [`bucket_of`] puts in bucket 0).
pub fn for_each_bucket(keys: &ArrayRef, n: u64, mut f: impl FnMut(Option<u64>)) -> Result<()> {
    use arrow::array::AsArray;
    use arrow::datatypes::{Int32Type, Int64Type};
    match keys.data_type() {
        DataType::Int64 => keys
            .as_primitive::<Int64Type>()
            .iter()
            .for_each(|k| f(k.map(|k| bucket_of_int(k, n)))),
        DataType::Int32 => keys
            .as_primitive::<Int32Type>()
            .iter()
            .for_each(|k| f(k.map(|k| bucket_of_int(i64::from(k), n)))),
        _ => for_each_str(keys, |k| f(k.map(|k| bucket_of(Some(k), n))))?,
    }
    Ok(())
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
                    .chain([DataType::Int64, DataType::Int32, DataType::Null])
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
        for_each_bucket(&keys, n as u64, |b| out.append_value(b.unwrap_or(0) as i64))?;
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

    #[test]
    fn an_integer_key_is_in_the_bucket_of_its_decimal_text() {
        for k in [0, 7, 42, 1_000_003, -5, i64::MAX, i64::MIN] {
            assert_eq!(
                bucket_of_int(k, 16),
                bucket_of(Some(&k.to_string()), 16),
                "{k}"
            );
        }
        let keys: ArrayRef = Arc::new(arrow::array::Int64Array::from(vec![Some(42), None]));
        let mut seen = Vec::new();
        for_each_bucket(&keys, 16, |b| seen.push(b)).unwrap();
        assert_eq!(seen, [Some(bucket_of(Some("42"), 16)), None]);
    }
}
