//! FIX tag=value parsing for SQL: `fix_tag`, `fix_tags` and `fix_error`.
//!
//! Source systems log FIX messages as text, fields separated by SOH (0x01) or, in most logs,
//! by `|`. These functions read that text; what the fields *mean* is decided in SQL.
//!
//! ```sql
//! select fix_tag(fix, 35)  as msg_type,      -- first value of tag 35, NULL if absent
//!        fix_tags(fix, 600) as leg_symbols,  -- every value of a repeating-group tag, in order
//!        fix_error(fix)    as parse_error    -- NULL when well-formed, else the reason
//! from inbound.fix_msg
//! ```

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, ListBuilder, StringBuilder};
use arrow::datatypes::{DataType, Field};
use datafusion::common::{ScalarValue, exec_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};

use super::strings::{for_each_str, string_types};

const SOH: char = '\u{1}';

/// Length fields whose following data field may contain the separator
/// (RawDataLength/RawData, EncodedTextLen/EncodedText, SecureDataLen/SecureData,
/// SignatureLength/Signature, XmlDataLen/XmlData).
const DATA_LENGTH_TAGS: [(u32, u32); 5] = [(95, 96), (354, 355), (90, 91), (93, 89), (212, 213)];

/// One `tag=value` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixField<'a> {
    pub tag: u32,
    pub value: &'a str,
}

/// Split a FIX message into fields. Returns an error message for the first malformed field.
pub fn parse_fields(raw: &str) -> Result<Vec<FixField<'_>>, String> {
    let sep = if raw.contains(SOH) { SOH } else { '|' };
    let mut fields = Vec::with_capacity(32);
    let mut rest = raw;
    let mut data_len: Option<(u32, usize)> = None;
    while !rest.is_empty() {
        let Some(eq) = rest.find('=') else {
            return Err(format!(
                "field {} '{}' has no '='",
                fields.len() + 1,
                truncate(rest.split(sep).next().unwrap_or(rest))
            ));
        };
        let tag_text = &rest[..eq];
        if tag_text.contains(sep) {
            let bad = tag_text.split(sep).next().unwrap_or(tag_text);
            return Err(format!(
                "field {} '{}' has no '='",
                fields.len() + 1,
                truncate(bad)
            ));
        }
        let tag: u32 = tag_text.parse().map_err(|_| {
            format!(
                "field {}: tag '{}' is not a number",
                fields.len() + 1,
                truncate(tag_text)
            )
        })?;
        let after = &rest[eq + 1..];
        // A data field announced by its length field may contain the separator.
        let value_len = match data_len.take() {
            Some((data_tag, len)) if data_tag == tag && len <= after.len() => len,
            _ => after.find(sep).unwrap_or(after.len()),
        };
        let value = &after[..value_len];
        if let Some((_, data_tag)) = DATA_LENGTH_TAGS.iter().find(|(l, _)| *l == tag)
            && let Ok(len) = value.parse::<usize>()
        {
            data_len = Some((*data_tag, len));
        }
        fields.push(FixField { tag, value });
        rest = after[value_len..]
            .strip_prefix(sep)
            .unwrap_or(&after[value_len..]);
    }
    Ok(fields)
}

/// Why `raw` is not a well-formed FIX message, or `None` if it is. Checks the field syntax,
/// that BeginString (8), BodyLength (9) and MsgType (35) lead the message, and, when present,
/// BodyLength and CheckSum (10), computed as if every separator were SOH.
pub fn fix_message_error(raw: &str) -> Option<String> {
    if raw.trim().is_empty() {
        return Some("empty message".into());
    }
    let fields = match parse_fields(raw) {
        Ok(f) => f,
        Err(e) => return Some(e),
    };
    let tags: Vec<u32> = fields.iter().take(3).map(|f| f.tag).collect();
    if tags != [8, 9, 35] {
        return Some(format!(
            "message must start with 8, 9, 35; starts with {}",
            tags.iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if fields[2].value.is_empty() {
        return Some("MsgType (35) is empty".into());
    }
    if let Some((tag, position)) = repeated_tag(&fields) {
        return Some(format!(
            "tag {tag} repeats (field {position}) outside a repeating group"
        ));
    }
    let sep = if raw.contains(SOH) { SOH } else { '|' };
    let normalized: Vec<u8> = raw
        .bytes()
        .map(|b| if b as char == sep { 1 } else { b })
        .collect();
    // BodyLength: bytes after the 9= field up to and including the separator before 10=.
    if let Some(body_start) = find_after_field(&normalized, b"9=")
        && let Some(trailer) = find_field_start(&normalized, b"10=")
        && trailer >= body_start
    {
        let declared: usize = fields[1].value.parse().unwrap_or(usize::MAX);
        let actual = trailer - body_start;
        if declared != actual {
            return Some(format!(
                "BodyLength (9) is {declared} but the body has {actual} bytes"
            ));
        }
        let sum: u32 = normalized[..trailer].iter().map(|&b| b as u32).sum::<u32>() % 256;
        if let Some(check) = fields.iter().find(|f| f.tag == 10) {
            match check.value.parse::<u32>() {
                Ok(v) if v == sum => {}
                _ => {
                    return Some(format!(
                        "CheckSum (10) is '{}' but the message sums to {sum:03}",
                        check.value
                    ));
                }
            }
        }
    }
    None
}

/// NumInGroup fields of FIX 4.2 and 4.4 (QuickFIX's FIX42.xml and FIX44.xml): a tag may repeat
/// only after one of these opened a repeating group.
const GROUP_COUNT_TAGS: [u32; 59] = [
    33, 73, 78, 85, 124, 136, 146, 199, 215, 232, 267, 268, 295, 296, 382, 384, 386, 398, 420, 428,
    453, 454, 457, 473, 510, 518, 534, 539, 552, 555, 558, 576, 580, 604, 627, 670, 683, 702, 711,
    735, 753, 756, 768, 778, 781, 801, 802, 804, 806, 816, 862, 864, 870, 887, 897, 936, 938, 948,
    952,
];

/// The first tag that repeats outside a repeating group (`38=30|38=3000`): which value is meant
/// cannot be known, so the message is malformed rather than read by its first value.
fn repeated_tag(fields: &[FixField]) -> Option<(u32, usize)> {
    let mut seen = std::collections::HashSet::new();
    for (i, f) in fields.iter().enumerate() {
        if GROUP_COUNT_TAGS.contains(&f.tag) {
            return None;
        }
        if !seen.insert(f.tag) {
            return Some((f.tag, i + 1));
        }
    }
    None
}

/// Index just after the separator that ends the field starting with `prefix` at a field start.
fn find_after_field(msg: &[u8], prefix: &[u8]) -> Option<usize> {
    let start = find_field_start(msg, prefix)?;
    let end = msg[start..].iter().position(|&b| b == 1)?;
    Some(start + end + 1)
}

/// Index where a field starting with `prefix` begins (at the start or after a separator).
fn find_field_start(msg: &[u8], prefix: &[u8]) -> Option<usize> {
    if msg.starts_with(prefix) {
        return Some(0);
    }
    msg.windows(prefix.len() + 1)
        .position(|w| w[0] == 1 && &w[1..] == prefix)
        .map(|p| p + 1)
}

fn truncate(s: &str) -> String {
    s.chars().take(24).collect()
}

fn tag_argument(name: &str, args: &[ColumnarValue]) -> Result<u32> {
    match args.get(1) {
        Some(ColumnarValue::Scalar(ScalarValue::Int64(Some(t)))) if *t > 0 => Ok(*t as u32),
        _ => exec_err!(
            "{name}(raw, tag): tag must be a positive integer literal, e.g. {name}(fix, 35)"
        ),
    }
}

/// Values of `tag` in one message, in order. A malformed message yields the fields that do
/// parse (`fix_error` reports the error itself). The UDFs do the same through [`ParsedBatch`].
#[cfg(test)]
fn tag_values(raw: &str, tag: u32) -> impl Iterator<Item = &str> {
    let fields = match parse_fields(raw) {
        Ok(f) => f,
        Err(_) => parse_lenient(raw),
    };
    fields
        .into_iter()
        .filter(move |f| f.tag == tag)
        .map(|f| f.value)
}

/// The well-formed fields of a malformed message, skipping the ones that do not parse.
fn parse_lenient(raw: &str) -> Vec<FixField<'_>> {
    let sep = if raw.contains(SOH) { SOH } else { '|' };
    raw.split(sep)
        .filter_map(|part| {
            let (tag, value) = part.split_once('=')?;
            Some(FixField {
                tag: tag.parse().ok()?,
                value,
            })
        })
        .collect()
}

/// The fields of every message of one batch, as (tag, start, end) byte ranges per row.
///
/// A stage reads ~35 tags of each message, one `fix_tag` call per tag, and each call gets the
/// same batch column. Parsing once per batch instead of once per call is what makes
/// `stg_fix_msg` cheap: each thread keeps the last batch it parsed (holding a reference to the
/// input array, so its address cannot be reused by another array while it is cached) and the
/// next call on the very same array reuses the ranges.
struct ParsedBatch {
    input: ArrayRef,
    /// Row `i`'s fields are `fields[rows[i]..rows[i + 1]]`.
    rows: Vec<u32>,
    fields: Vec<(u32, u32, u32)>,
}

thread_local! {
    static LAST_PARSED: RefCell<Option<Rc<ParsedBatch>>> = const { RefCell::new(None) };
}

impl ParsedBatch {
    /// The parsed fields of `input`, from this thread's cache when it is the same array.
    fn of(input: &ArrayRef) -> Result<Rc<ParsedBatch>> {
        let cached = LAST_PARSED.with(|c| {
            c.borrow()
                .as_ref()
                .filter(|p| Arc::ptr_eq(&p.input, input))
                .cloned()
        });
        if let Some(parsed) = cached {
            return Ok(parsed);
        }
        let mut rows = Vec::with_capacity(input.len() + 1);
        let mut fields = Vec::with_capacity(input.len() * 24);
        rows.push(0);
        for_each_str(input, |s| {
            if let Some(raw) = s {
                let parsed = parse_fields(raw).unwrap_or_else(|_| parse_lenient(raw));
                let base = raw.as_ptr() as usize;
                fields.extend(parsed.iter().map(|f| {
                    let start = (f.value.as_ptr() as usize - base) as u32;
                    (f.tag, start, start + f.value.len() as u32)
                }));
            }
            rows.push(fields.len() as u32);
        })?;
        let parsed = Rc::new(ParsedBatch {
            input: Arc::clone(input),
            rows,
            fields,
        });
        LAST_PARSED.with(|c| *c.borrow_mut() = Some(Rc::clone(&parsed)));
        Ok(parsed)
    }

    /// Values of `tag` in row `row`, whose text is `raw`, in message order.
    fn values<'a>(&'a self, row: usize, raw: &'a str, tag: u32) -> impl Iterator<Item = &'a str> {
        let range = self.rows[row] as usize..self.rows[row + 1] as usize;
        self.fields[range]
            .iter()
            .filter(move |f| f.0 == tag)
            .map(move |&(_, start, end)| &raw[start as usize..end as usize])
    }
}

fn string_or_int_signature() -> Signature {
    Signature::one_of(
        string_types()
            .into_iter()
            .map(|t| TypeSignature::Exact(vec![t, DataType::Int64]))
            .collect(),
        Volatility::Immutable,
    )
}

/// `fix_tag(raw, tag) -> utf8`: the first value of `tag`, or NULL when the tag is absent.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FixTag {
    signature: Signature,
}

impl FixTag {
    pub fn new() -> Self {
        Self {
            signature: string_or_int_signature(),
        }
    }
}

impl Default for FixTag {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for FixTag {
    fn name(&self) -> &str {
        "fix_tag"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let tag = tag_argument(self.name(), &args.args)?;
        let input = args.args[0].to_array(args.number_rows)?;
        let parsed = ParsedBatch::of(&input)?;
        let mut out = StringBuilder::with_capacity(input.len(), input.len() * 8);
        let mut row = 0;
        for_each_str(&input, |s| {
            match s.and_then(|s| parsed.values(row, s, tag).next()) {
                Some(v) => out.append_value(v),
                None => out.append_null(),
            }
            row += 1;
        })?;
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

/// `fix_tags(raw, tag) -> list<utf8>`: every value of `tag` in message order (repeating groups).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FixTags {
    signature: Signature,
}

impl FixTags {
    pub fn new() -> Self {
        Self {
            signature: string_or_int_signature(),
        }
    }
}

impl Default for FixTags {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for FixTags {
    fn name(&self) -> &str {
        "fix_tags"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::List(Arc::new(Field::new_list_field(
            DataType::Utf8,
            true,
        ))))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let tag = tag_argument(self.name(), &args.args)?;
        let input = args.args[0].to_array(args.number_rows)?;
        let parsed = ParsedBatch::of(&input)?;
        let mut out = ListBuilder::new(StringBuilder::new());
        let mut row = 0;
        for_each_str(&input, |s| {
            match s {
                Some(s) => {
                    for v in parsed.values(row, s, tag) {
                        out.values().append_value(v);
                    }
                    out.append(true);
                }
                None => out.append(false),
            }
            row += 1;
        })?;
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

/// `fix_error(raw) -> utf8`: NULL for a well-formed message, else why it is malformed.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FixError {
    signature: Signature,
}

impl FixError {
    pub fn new() -> Self {
        Self {
            signature: Signature::one_of(
                string_types()
                    .into_iter()
                    .map(|t| TypeSignature::Exact(vec![t]))
                    .collect(),
                Volatility::Immutable,
            ),
        }
    }
}

impl Default for FixError {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for FixError {
    fn name(&self) -> &str {
        "fix_error"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let input = args.args[0].to_array(args.number_rows)?;
        let mut out = StringBuilder::new();
        for_each_str(&input, |s| match s.and_then(fix_message_error) {
            Some(e) => out.append_value(e),
            None => out.append_null(),
        })?;
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Build a message with correct BodyLength and CheckSum, `|`-separated.
    fn message(body: &str) -> String {
        let head = format!("8=FIX.4.4|9={}|", body.len());
        let without_check = format!("{head}{body}");
        let sum: u32 = without_check
            .bytes()
            .map(|b| if b == b'|' { 1 } else { b as u32 })
            .sum::<u32>()
            % 256;
        format!("{without_check}10={sum:03}|")
    }

    #[test]
    fn reads_tags_with_pipe_or_soh() {
        let m = message("35=D|11=C1|38=100|44=10.25|");
        let fields = parse_fields(&m).unwrap();
        assert_eq!(
            fields[2],
            FixField {
                tag: 35,
                value: "D"
            }
        );
        assert_eq!(tag_values(&m, 44).collect::<Vec<_>>(), vec!["10.25"]);
        let soh = m.replace('|', "\u{1}");
        assert_eq!(tag_values(&soh, 11).collect::<Vec<_>>(), vec!["C1"]);
        assert_eq!(fix_message_error(&m), None);
        assert_eq!(fix_message_error(&soh), None);
    }

    #[test]
    fn batch_parse_matches_per_message_parse_and_is_per_array() {
        use arrow::array::StringArray;
        let messages = [
            Some(message("35=D|11=C1|38=100|44=10.25|")),
            None,
            Some(message("35=AB|555=2|600=AAPL|624=1|600=MSFT|624=2|")),
            Some("8=FIX.4.4|9=5|35D|34=10|".to_string()),
            Some(message("35=D|95=5|96=a|b|c|11=X|")),
        ];
        let a: ArrayRef = Arc::new(StringArray::from(messages.to_vec()));
        let b: ArrayRef = Arc::new(StringArray::from(vec![Some(message("35=8|11=OTHER|"))]));
        for input in [&a, &b, &a] {
            let parsed = ParsedBatch::of(input).unwrap();
            let mut row = 0;
            for_each_str(input, |s| {
                if let Some(s) = s {
                    for tag in [8, 9, 10, 11, 34, 35, 38, 44, 96, 600, 624] {
                        assert_eq!(
                            parsed.values(row, s, tag).collect::<Vec<_>>(),
                            tag_values(s, tag).collect::<Vec<_>>(),
                            "row {row} tag {tag}"
                        );
                    }
                }
                row += 1;
            })
            .unwrap();
        }
    }

    #[test]
    fn repeating_group_values_in_order() {
        let m = message("35=AB|555=2|600=AAPL|624=1|600=MSFT|624=2|");
        assert_eq!(
            tag_values(&m, 600).collect::<Vec<_>>(),
            vec!["AAPL", "MSFT"]
        );
        assert_eq!(tag_values(&m, 624).collect::<Vec<_>>(), vec!["1", "2"]);
    }

    #[test]
    fn data_field_may_contain_separator() {
        let m = message("35=D|95=5|96=a|b|c|11=X|");
        assert_eq!(tag_values(&m, 96).collect::<Vec<_>>(), vec!["a|b|c"]);
        assert_eq!(tag_values(&m, 11).collect::<Vec<_>>(), vec!["X"]);
    }

    #[test]
    fn reports_malformed_messages() {
        let e = fix_message_error("8=FIX.4.4|9=5|35D|11=BROKEN|").unwrap();
        assert!(e.contains("'35D' has no '='"), "{e}");
        let e = fix_message_error("8=FIX.4.4|9=5|x5=D|").unwrap();
        assert!(e.contains("not a number"), "{e}");
        let e = fix_message_error("").unwrap();
        assert_eq!(e, "empty message");
        let good = message("35=D|11=C1|");
        let bad_sum = good.replace("11=C1", "11=C2");
        assert!(fix_message_error(&bad_sum).unwrap().contains("CheckSum"));
        let bad_len = good.replace("9=", "9=1");
        assert!(fix_message_error(&bad_len).unwrap().contains("BodyLength"));
        // The fields that do parse are still readable.
        assert_eq!(
            tag_values("8=FIX.4.4|9=5|35D|34=10|", 34).collect::<Vec<_>>(),
            vec!["10"]
        );
    }

    #[test]
    fn a_tag_repeated_outside_a_group_is_malformed() {
        let twice = message("35=D|11=C1|38=30|38=3000|");
        let e = fix_message_error(&twice).unwrap();
        assert!(e.contains("tag 38 repeats"), "{e}");
        // Inside a repeating group (NoLegs, 555) tags repeat by design.
        let legs = message("35=AB|11=C1|555=2|600=AAPL|624=1|600=MSFT|624=2|");
        assert_eq!(fix_message_error(&legs), None);
    }
}
