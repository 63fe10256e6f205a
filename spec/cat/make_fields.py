#!/usr/bin/env python3
"""Turn the CAT IM Tech Specs field tables (shared/reference/cat-fields.md) into spec/cat/fields.toml.

The tables give presence, type and size; the conditions that make a C (conditional) field
required, or forbid it, are the spec's prose and are written here in CONDITIONS, so that each
lands in the TOML next to the field it governs. Run after the reference changes:

    python3 spec/cat/make_fields.py ../shared/reference/cat-fields.md > spec/cat/fields.toml
"""
import re
import sys

# Conditions on fields, by field name (applied in every event type that has the field), or by
# "EVENT.field". Keys:
#   required_when = {field = [values]}   required when every named field has one of the values
#                                         ("*": the field is present)
#   only_when     = {field = [values]}   must be absent unless the condition holds
#   with          = "field"              present together with that field (both or neither)
#   not_above     = "field"              a number no greater than that field's
#   count_of      = "array"              equals the number of elements of that array
#   values        = "name"               allowed values from [values.name] (default: the
#                                         field's own name, when [values] has it)
#   values_by     = {field = {V = "name"}} allowed values chosen by another field's value;
#                                         "@crd_imid" is the form CRD:IMID
#   form          = "crd_imid"           text of that form
LMT_PRICE = {"required_when": {"orderType": ["LMT"]}}
CONDITIONS = {
    "errorROEID": {"required_when": {"actionType": ["RPR"]}, "only_when": {"actionType": ["RPR"]}},
    "electronicTimestamp": {"required_when": {"manualFlag": ["true"]}},
    "manualOrderKeyDate": {"with": "manualOrderID"},
    "manualOrderID": {"with": "manualOrderKeyDate"},
    "priorOrderKeyDate": {"with": "priorOrderID"},
    "priorOrderID": {"with": "priorOrderKeyDate"},
    "parentOrderKeyDate": {"with": "parentOrderID"},
    "parentOrderID": {"with": "parentOrderKeyDate"},
    "quoteKeyDate": {"with": "quoteID"},
    "quoteID": {"with": "quoteKeyDate"},
    "price": LMT_PRICE,
    "leavesQty": {"not_above": "quantity"},
    "destination": {
        "required_when": {"destinationType": ["E", "F"]},
        "values_by": {"destinationType": {"E": "exchange_destination", "F": "@crd_imid"}},
    },
    "senderIMID": {"form": "crd_imid"},
    "receiverIMID": {"form": "crd_imid"},
    "routedOrderID": {"required_when": {"destinationType": ["E", "F"]}},
    "session": {"required_when": {"destinationType": ["E"]}, "only_when": {"destinationType": ["E"]}},
    "cancelTimestamp": {"required_when": {"cancelFlag": ["true"]}, "only_when": {"cancelFlag": ["true"]}},
    "numberOfLegs": {"count_of": "legDetails"},
    "firmDetails": {"required_when": {"fulfillmentLinkType": ["Y", "YS", "YP", "YE", "O", "OS", "OE", "OML", "OME"]}},
    "MEOT.buyDetails": {"required_when": {"sideDetailsInd": ["BUY"]}},
    "MEOT.sellDetails": {"required_when": {"sideDetailsInd": ["SELL"]}},
}

ROW = re.compile(r"^\| (\w+) \| ([RCO]) \| (SN|S|N|B|O|A) \| ([0-9.]*) *\|$")
ELEMENTS = re.compile(r"^`(\w+)` elements: (.*)$")
ELEMENT = re.compile(r"(\w+) \(([RCO]), (SN|S|N|B|O|A)(?: ([0-9.]+))?\)")


def toml_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def toml_value(v):
    if isinstance(v, str):
        return toml_str(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(v)


def refers_to(cond):
    """The fields a condition names."""
    for k, v in cond.items():
        if k in ("required_when", "only_when", "values_by"):
            yield from v.keys()
        elif k in ("with", "not_above", "count_of"):
            yield v


def field_line(event, name, presence, typ, size, siblings):
    attrs = {"p": presence, "t": typ}
    if size:
        if typ == "S":
            attrs["len"] = size
        else:
            attrs["size"] = size
    cond = dict(CONDITIONS.get(name, {}))
    cond.update(CONDITIONS.get(f"{event}.{name}", {}))
    # A condition on a field this event type does not have does not apply to it.
    cond = {k: v for k, v in cond.items() if all(f in siblings for f in refers_to({k: v}))}
    attrs.update(cond)
    parts = []
    for k, v in attrs.items():
        if k == "len":
            parts.append(f"len = {int(v)}")
        else:
            parts.append(f"{k} = {toml_value(v)}")
    return f"{name} = {{ {', '.join(parts)} }}"


def event_fields(lines, event):
    """The field names of an event type's table."""
    names, inside = set(), False
    for line in lines:
        if line.startswith("## "):
            inside = line[3:].strip() == event
            continue
        m = ROW.match(line)
        if inside and m:
            names.add(m.group(1))
    return names


def main(path):
    lines = open(path, encoding="utf-8").read().splitlines()
    out = [
        "# CAT order-event fields, equities: IM Technical Specifications v4.1.0 r15, one table per",
        "# event type. Made by spec/cat/make_fields.py from the reference tables; the conditions",
        "# (required_when, only_when, with, not_above, count_of, values_by, form) are the spec's",
        "# prose, written next to the field they govern. `ordertrail validate-cat` reads this file.",
        "#   p: R required, C conditional, O optional",
        "#   t: S string, N number, B boolean, SN date/timestamp (string or ns number),",
        "#      O name/value object, A array of objects (fields under [events.X.elements.Y])",
        "#   len: most characters; size: \"digits.decimals\" of a number",
        "",
        'version = "4.1.0 r15"',
        "",
    ]
    event = None
    values = []
    in_values = False
    for line in lines:
        if line.startswith("## "):
            title = line[3:].strip()
            in_values = title == "Allowed values"
            if not in_values:
                event = title
                out += ["", f"[events.{event}]"]
            continue
        if in_values:
            m = re.match(r"^- `(\w+)`(?: when `destinationType` is (\w))?[^:]*: (.*)$", line)
            if not m:
                continue
            name, dest_type, rest = m.groups()
            if dest_type == "E":
                values.append(("exchange_destination", [v.strip() for v in rest.split(",")]))
            elif dest_type:
                continue
            else:
                values.append((name, [v.strip() for v in rest.split(",")]))
            continue
        m = ROW.match(line)
        if m and event:
            out.append(field_line(event, *m.groups(), siblings=event_fields(lines, event)))
            continue
        m = ELEMENTS.match(line)
        if m and event:
            array, rest = m.groups()
            out += ["", f"[events.{event}.elements.{array}]"]
            elements = [em.groups() for em in ELEMENT.finditer(rest)]
            names = {e[0] for e in elements}
            for name, presence, typ, size in elements:
                out.append(field_line(event, name, presence, typ, size, names))
    out += ["", "# Allowed values, by field name (or the name a field's `values` gives).", "[values]"]
    for name, vals in values:
        out.append(f"{name} = {toml_value(vals)}")
    out += [
        "",
        "# Names a name/value object may hold, and the type of each value.",
        "[objects.timeInForce]",
        'DAY = "date"',
        'GTD = "date"',
        'IOC = "true"',
        'GTC = "true"',
        "",
        "# How events link (CAT linkage rules 3501-3505, 3601): what creates an order key",
        "# (orderKeyDate + orderID), what replaces one, which arrays name orders, what fills them.",
        "[linkage]",
        'origin = ["MENO", "MEOA", "MEIR", "MECO", "MLNO", "MLOA", "MLIR", "MLCO"]',
        "# An internal route (to the firm's own desk) keeps the routed order's key, or gives the",
        "# desk's order a key of its own.",
        'may_keep_key = ["MEIR", "MLIR"]',
        "# A new key when priorOrderKeyDate/priorOrderID are given (they name the key replaced).",
        'replaces = ["MEOM", "MLOM", "MEOJ"]',
        'order_arrays = ["clientDetails", "firmDetails", "buyDetails", "sellDetails"]',
        "# Their quantity adds up against the client orders of clientDetails.",
        'fulfillments = ["MEOF"]',
        "# routedOrderID is unique per destination, session and day unless dupROIDCond is true.",
        'routes = ["MEOR", "MLOR", "MEMR"]',
        "",
    ]
    text = "\n".join(out)
    text = re.sub(r"\n{3,}", "\n\n", text)
    sys.stdout.write(text.strip() + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/reference/cat-fields.md")
