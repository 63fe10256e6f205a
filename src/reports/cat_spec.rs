//! The CAT order-event field tables as data: `spec/cat/fields.toml` (IM Technical
//! Specifications v4.1.0 r15), compiled into the binary. [`super::cat_validate`] checks files
//! against it; nothing here knows an event type by name.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::error::{Error, Result};

const FIELDS_TOML: &str = include_str!("../../spec/cat/fields.toml");

/// Presence of a field: R required, C conditional, O optional.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Presence {
    R,
    C,
    O,
}

/// JSON type of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum FieldType {
    /// String.
    S,
    /// Number.
    N,
    /// Boolean.
    B,
    /// Date or timestamp: a string (`YYYYMMDD`, `YYYYMMDD HHMMSS.fff...`,
    /// `YYYYMMDDTHHMMSS.fff...`) or a number (nanoseconds since the epoch).
    SN,
    /// Name/value object.
    O,
    /// Array of objects.
    A,
}

/// A condition on other fields of the same event: every named field has one of the values
/// (`"*"`: is present; booleans as `"true"`/`"false"`).
pub type Condition = BTreeMap<String, Vec<String>>;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    pub p: Presence,
    pub t: FieldType,
    /// Most characters of a string.
    pub len: Option<usize>,
    /// `"digits.decimals"` of a number.
    pub size: Option<String>,
    pub required_when: Option<Condition>,
    pub only_when: Option<Condition>,
    /// Present together with this field.
    pub with: Option<String>,
    /// A number no greater than this field's.
    pub not_above: Option<String>,
    /// Equals the number of elements of this array.
    pub count_of: Option<String>,
    /// Allowed values: the `[values]` list of this name (default: the field's own name).
    pub values: Option<String>,
    /// Allowed values chosen by another field's value: field -> value -> list name
    /// (`@crd_imid`: the form CRD:IMID).
    pub values_by: Option<BTreeMap<String, BTreeMap<String, String>>>,
    /// Text of a form (`crd_imid`).
    pub form: Option<String>,
}

impl FieldSpec {
    /// (digits before the point, digits after) of a number field.
    pub fn digits(&self) -> Option<(usize, usize)> {
        let (a, b) = self.size.as_deref()?.split_once('.')?;
        Some((a.parse().ok()?, b.parse().ok()?))
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventSpec {
    /// Fields of each array's elements.
    #[serde(default)]
    pub elements: BTreeMap<String, BTreeMap<String, FieldSpec>>,
    #[serde(flatten)]
    pub fields: BTreeMap<String, FieldSpec>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Spec {
    pub version: String,
    pub events: BTreeMap<String, EventSpec>,
    pub values: BTreeMap<String, Vec<String>>,
    /// Names a name/value object may hold and the type of each value (`date`, `true`).
    #[serde(default)]
    pub objects: BTreeMap<String, BTreeMap<String, String>>,
    pub linkage: Linkage,
}

/// How events link to the orders they name.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Linkage {
    /// Event types that create an order key (orderKeyDate + orderID).
    pub origin: Vec<String>,
    /// Origin event types that may instead keep the key of an order created before.
    pub may_keep_key: Vec<String>,
    /// Event types that create a new key when priorOrderKeyDate/priorOrderID name the old one.
    pub replaces: Vec<String>,
    /// Arrays whose elements' orderKeyDate/orderID name orders.
    pub order_arrays: Vec<String>,
    /// Event types whose quantity fills the client orders of their clientDetails.
    pub fulfillments: Vec<String>,
    /// Event types whose routedOrderID is unique per destination, session and day.
    pub routes: Vec<String>,
}

impl Spec {
    /// The spec compiled into the binary.
    pub fn builtin() -> Result<&'static Spec> {
        static SPEC: OnceLock<std::result::Result<Spec, String>> = OnceLock::new();
        SPEC.get_or_init(|| Spec::parse(FIELDS_TOML).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| Error::input(format!("spec/cat/fields.toml (built in): {e}")))
    }

    pub fn parse(text: &str) -> Result<Spec> {
        let spec: Spec = toml::from_str(text).map_err(|e| Error::input(e.to_string()))?;
        spec.check()?;
        Ok(spec)
    }

    /// Every name a field refers to exists: value lists, fields of conditions.
    fn check(&self) -> Result<()> {
        for (event, e) in &self.events {
            let all = e
                .fields
                .iter()
                .map(|(n, f)| (String::new(), n, f, &e.fields))
                .chain(e.elements.iter().flat_map(|(array, fields)| {
                    fields
                        .iter()
                        .map(move |(n, f)| (format!("{array}."), n, f, fields))
                }));
            for (prefix, name, f, siblings) in all {
                let at = format!("{event}.{prefix}{name}");
                let refs = f
                    .required_when
                    .iter()
                    .chain(f.only_when.iter())
                    .flat_map(|c| c.keys())
                    .chain(f.with.iter())
                    .chain(f.not_above.iter())
                    .chain(f.count_of.iter())
                    .chain(f.values_by.iter().flat_map(|v| v.keys()));
                for r in refs {
                    if !siblings.contains_key(r) {
                        return Err(Error::input(format!(
                            "{at} refers to field {r}, which {event} does not have"
                        )));
                    }
                }
                let lists = f.values.iter().chain(
                    f.values_by
                        .iter()
                        .flat_map(|v| v.values().flat_map(|m| m.values())),
                );
                for list in lists {
                    if !list.starts_with('@') && !self.values.contains_key(list) {
                        return Err(Error::input(format!(
                            "{at} names value list {list}, which [values] does not have"
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// Allowed values of a field with no `values`/`values_by` of its own.
    pub fn values_of(&self, field: &str, spec: &FieldSpec) -> Option<&[String]> {
        let name = spec.values.as_deref().unwrap_or(field);
        self.values.get(name).map(Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_spec_loads_with_every_event_type_an_agency_broker_emits() {
        let spec = Spec::builtin().unwrap();
        for t in [
            "MENO", "MEOR", "MEIR", "MEOM", "MEOC", "MEOF", "MEMR", "MLNO", "MLOR", "MLOM", "MLOC",
            "MLIR",
        ] {
            assert!(spec.events.contains_key(t), "{t} missing");
        }
        let meof = &spec.events["MEOF"];
        assert_eq!(meof.fields["clientDetails"].t, FieldType::A);
        assert_eq!(meof.fields["clientDetails"].p, Presence::R);
        assert!(meof.elements["clientDetails"].contains_key("orderID"));
        assert_eq!(spec.events["MENO"].fields["price"].digits(), Some((10, 8)));
        assert!(!spec.events["MEIR"].fields.contains_key("isoInd"));
        assert_eq!(spec.events["MEIR"].fields["multiLegInd"].p, Presence::R);
    }

    #[test]
    fn a_condition_on_a_field_the_event_lacks_is_refused() {
        let err = Spec::parse(
            "version = \"x\"\n[values]\n[linkage]\norigin = []\nmay_keep_key = []\nreplaces = []\n\
             order_arrays = []\nfulfillments = []\nroutes = []\n[events.X]\n\
             price = { p = \"C\", t = \"N\", required_when = { orderType = [\"LMT\"] } }\n",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("refers to field orderType"),
            "{err}"
        );
    }
}
