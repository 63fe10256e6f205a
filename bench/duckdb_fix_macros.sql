-- ordertrail's FIX functions (src/udf/fix.rs) as DuckDB macros, for bench/compare.py.
-- Same semantics:
-- - the separator is SOH when the message contains one, else '|';
-- - a field is `tag=value` at the start or after a separator; its tag is compared as a number
--   (Rust's u32 parse: optional '+', leading zeros allowed); the value runs to the next separator;
-- - fix_tag: the first value, NULL when absent; fix_tags: every value in order ([] when none);
-- - fix_error: NULL or the same text as the Rust function ('empty message', field syntax,
--   8/9/35 order, empty MsgType, BodyLength, CheckSum over UTF-8 bytes).
-- Not reproduced: a data field announced by its length field (95/96, 354/355, 90/91, 93/89,
-- 212/213) whose value contains the separator; the generator never writes those tags.
-- Lambdas over one-element lists serve as let-bindings (the value is computed once).

create or replace macro fix_sep(fix) as
    case when contains(fix, chr(1)) then chr(1) else '|' end;

-- the whole `tag=value` field of the first match ('' when absent)
create or replace macro fix_field(fix, tag) as
    case when contains(fix, chr(1))
        then regexp_extract(fix, '(?:^|\x01)(\+?0*' || tag || '=[^\x01]*)', 1)
        else regexp_extract(fix, '(?:^|\|)(\+?0*' || tag || '=[^|]*)', 1) end;

create or replace macro fix_tag(fix, tag) as
    list_transform([fix_field(fix, tag)],
        lambda f: case when f = '' then null else substr(f, strpos(f, '=') + 1) end)[1];

create or replace macro fix_tags(fix, tag) as
    list_transform(
        case when contains(fix, chr(1))
            then regexp_extract_all(fix, '(?:^|\x01)(\+?0*' || tag || '=[^\x01]*)', 1)
            else regexp_extract_all(fix, '(?:^|\|)(\+?0*' || tag || '=[^|]*)', 1) end,
        lambda f: substr(f, strpos(f, '=') + 1));

-- UTF-8 byte sum of one code point (the CheckSum adds bytes, not characters)
create or replace macro fix_utf8_byte_sum(cp) as
    case
        when cp < 128 then cp
        when cp < 2048 then (192 | (cp >> 6)) + (128 | (cp & 63))
        when cp < 65536 then (224 | (cp >> 12)) + (128 | ((cp >> 6) & 63)) + (128 | (cp & 63))
        else (240 | (cp >> 18)) + (128 | ((cp >> 12) & 63)) + (128 | ((cp >> 6) & 63)) + (128 | (cp & 63))
    end;

create or replace macro fix_checksum(norm, upto) as
    list_sum(list_transform(string_split(left(norm, upto), ''),
        lambda ch: fix_utf8_byte_sum(unicode(ch)))) % 256;

-- Rust's u32 parse: optional '+', digits, at most 4294967295
create or replace macro fix_is_u32(t) as
    regexp_full_match(t, '\+?[0-9]+') and coalesce(try_cast(ltrim(t, '+') as hugeint) <= 4294967295, false);

create or replace macro fix_tag_text(part) as split_part(part, '=', 1);
create or replace macro fix_tag_number(part) as cast(ltrim(fix_tag_text(part), '+') as hugeint);
create or replace macro fix_value(part) as substr(part, strpos(part, '=') + 1);

-- parse_fields: split on the separator; one trailing separator just ends the message
create or replace macro fix_parts(raw, sep) as
    case when ends_with(raw, sep) then string_split(raw, sep)[:-2] else string_split(raw, sep) end;

create or replace macro fix_syntax_error(parts) as
    list_filter(list_transform(parts, lambda part, i: case
        when strpos(part, '=') = 0 then 'field ' || i || ' ''' || left(part, 24) || ''' has no ''='''
        when not fix_is_u32(fix_tag_text(part)) then
            'field ' || i || ': tag ''' || left(fix_tag_text(part), 24) || ''' is not a number'
        end), lambda x: x is not null)[1];

-- 0-based character offsets into the SOH-normalised text: just after the 9= field (NULL when
-- absent), and where the 10= field starts (-1 when absent)
create or replace macro fix_body_at(norm) as
    list_transform([strpos(chr(1) || norm, chr(1) || '9=') - 1], lambda nine:
        case when nine >= 0 and strpos(substr(norm, nine + 1), chr(1)) > 0
             then nine + strpos(substr(norm, nine + 1), chr(1)) end)[1];
create or replace macro fix_trailer_at(norm) as strpos(chr(1) || norm, chr(1) || '10=') - 1;

create or replace macro fix_declared_body_length(parts) as
    coalesce(try_cast(ltrim(fix_value(parts[2]), '+') as ubigint), 18446744073709551615::ubigint);

create or replace macro fix_check_field(parts) as
    list_filter(parts, lambda part: fix_is_u32(fix_tag_text(part)) and fix_tag_number(part) = 10)[1];

create or replace macro fix_error_of(raw, parts, norm, body_at, trailer_at) as
    case
        when trim(raw, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)) = '' then 'empty message'
        when fix_syntax_error(parts) is not null then fix_syntax_error(parts)
        when list_transform(parts[:3], lambda part: fix_tag_number(part)) <> [8, 9, 35] then
            'message must start with 8, 9, 35; starts with '
            || array_to_string(list_transform(parts[:3], lambda part: fix_tag_number(part)), ', ')
        when fix_value(parts[3]) = '' then 'MsgType (35) is empty'
        when body_at is null or trailer_at < 0 or trailer_at < body_at then null
        when fix_declared_body_length(parts) <> strlen(substr(norm, body_at + 1, trailer_at - body_at)) then
            'BodyLength (9) is ' || fix_declared_body_length(parts)
            || ' but the body has ' || strlen(substr(norm, body_at + 1, trailer_at - body_at)) || ' bytes'
        when fix_check_field(parts) is null then null
        when coalesce(try_cast(ltrim(fix_value(fix_check_field(parts)), '+') as ubigint)
                      = fix_checksum(norm, trailer_at), false) then null
        else 'CheckSum (10) is ''' || fix_value(fix_check_field(parts))
             || ''' but the message sums to ' || lpad(cast(fix_checksum(norm, trailer_at) as varchar), 3, '0')
    end;

create or replace macro fix_error(fix) as
    list_transform([fix_sep(fix)], lambda sep:
        list_transform([replace(fix, sep, chr(1))], lambda norm:
            fix_error_of(fix, fix_parts(fix, sep), norm, fix_body_at(norm), fix_trailer_at(norm)))[1])[1];

-- ordertrail's `bucket(key, n)` (src/udf/bucket.rs) for the one-piece run compare.py makes
-- (`$buckets` = 1, `$bucket` = 0): every key is in bucket 0. Any other `n` is an error rather
-- than a silent mismatch with the Rust hash.
create or replace macro bucket(key, n) as
    case when n = 1 then 0::bigint else error('bucket(): compare.py runs stages in one bucket') end;
