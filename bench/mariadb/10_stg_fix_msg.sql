-- stg_fix_msg, hand-ported to MariaDB (the old way): sql/v1/staging/stg_fix_msg.sql.
-- FIX tags by LOCATE/SUBSTRING_INDEX on the message with a separator on both ends (first
-- value of a tag); repeating-group tags (600, 624, 623) by REGEXP_REPLACE, as comma-separated
-- text instead of lists. parse_error covers the field syntax, the 8/9/35 order, an empty MsgType,
-- BodyLength and undecodable decimals, but not the CheckSum (no byte sum in SQL), and its texts
-- are shorter than fix_error's.
drop table if exists stg_fix_msg;
create table stg_fix_msg (
    gateway varchar(8) not null, src_id bigint not null, create_time datetime(6) not null,
    sid varchar(32), upstream varchar(16), direction varchar(4), fix text,
    parse_error varchar(255), fix_msg_type varchar(8), msg_seq_num bigint, ref_seq_num bigint,
    ref_msg_type varchar(8), session_reject_reason varchar(8), cl_ord_id varchar(64),
    orig_cl_ord_id varchar(64), fix_order_id varchar(64), exec_id varchar(64), exec_type varchar(4),
    ord_status varchar(4), account varchar(32), symbol varchar(32), side_code varchar(4),
    ord_type_code varchar(4), tif_code varchar(4), price decimal(18,6), qty decimal(18,6),
    last_qty decimal(18,6), last_px decimal(18,6), cum_qty decimal(18,6), leaves_qty decimal(18,6),
    avg_px decimal(18,6), text varchar(255), cxl_rej_response_to varchar(4), cxl_rej_reason varchar(8),
    leg_count int, leg_symbols varchar(255), leg_sides varchar(255), leg_ratio_qtys varchar(255),
    primary key (gateway, src_id)
) engine=InnoDB;
insert into stg_fix_msg
with messages as (
    select 'inbound' as gateway, id as src_id, create_time, sid, cast(null as char(16)) as upstream, direction, fix
    from raw_inbound_fix_msg where trade_date = @trade_date
    union all
    select 'outbound', id, create_time, sid, upstream, direction, fix
    from raw_outbound_fix_msg where trade_date = @trade_date
),
separated as (
    select m.*, if(locate(char(1), m.fix) > 0, char(1), '|') as sep from messages m
),
framed as (
    select s.*, concat(s.sep, s.fix, s.sep) as f from separated s
),
parsed as (
    select
        gateway, src_id, create_time, sid, upstream, direction, fix, sep, f,
        if(locate(concat(sep, '35='), f) > 0, substring_index(substring(f, locate(concat(sep, '35='), f) + 4), sep, 1), null) as fix_msg_type,
        if(locate(concat(sep, '34='), f) > 0, substring_index(substring(f, locate(concat(sep, '34='), f) + 4), sep, 1), null) as msg_seq_num_text,
        if(locate(concat(sep, '45='), f) > 0, substring_index(substring(f, locate(concat(sep, '45='), f) + 4), sep, 1), null) as ref_seq_num_text,
        if(locate(concat(sep, '372='), f) > 0, substring_index(substring(f, locate(concat(sep, '372='), f) + 5), sep, 1), null) as ref_msg_type,
        if(locate(concat(sep, '373='), f) > 0, substring_index(substring(f, locate(concat(sep, '373='), f) + 5), sep, 1), null) as session_reject_reason,
        if(locate(concat(sep, '11='), f) > 0, substring_index(substring(f, locate(concat(sep, '11='), f) + 4), sep, 1), null) as cl_ord_id,
        if(locate(concat(sep, '41='), f) > 0, substring_index(substring(f, locate(concat(sep, '41='), f) + 4), sep, 1), null) as orig_cl_ord_id,
        if(locate(concat(sep, '37='), f) > 0, substring_index(substring(f, locate(concat(sep, '37='), f) + 4), sep, 1), null) as fix_order_id,
        if(locate(concat(sep, '17='), f) > 0, substring_index(substring(f, locate(concat(sep, '17='), f) + 4), sep, 1), null) as exec_id,
        if(locate(concat(sep, '150='), f) > 0, substring_index(substring(f, locate(concat(sep, '150='), f) + 5), sep, 1), null) as exec_type,
        if(locate(concat(sep, '39='), f) > 0, substring_index(substring(f, locate(concat(sep, '39='), f) + 4), sep, 1), null) as ord_status,
        if(locate(concat(sep, '1='), f) > 0, substring_index(substring(f, locate(concat(sep, '1='), f) + 3), sep, 1), null) as account,
        if(locate(concat(sep, '55='), f) > 0, substring_index(substring(f, locate(concat(sep, '55='), f) + 4), sep, 1), null) as symbol,
        if(locate(concat(sep, '54='), f) > 0, substring_index(substring(f, locate(concat(sep, '54='), f) + 4), sep, 1), null) as side_code,
        if(locate(concat(sep, '40='), f) > 0, substring_index(substring(f, locate(concat(sep, '40='), f) + 4), sep, 1), null) as ord_type_code,
        if(locate(concat(sep, '59='), f) > 0, substring_index(substring(f, locate(concat(sep, '59='), f) + 4), sep, 1), null) as tif_code,
        if(locate(concat(sep, '44='), f) > 0, substring_index(substring(f, locate(concat(sep, '44='), f) + 4), sep, 1), null) as price_text,
        if(locate(concat(sep, '38='), f) > 0, substring_index(substring(f, locate(concat(sep, '38='), f) + 4), sep, 1), null) as qty_text,
        if(locate(concat(sep, '32='), f) > 0, substring_index(substring(f, locate(concat(sep, '32='), f) + 4), sep, 1), null) as last_qty_text,
        if(locate(concat(sep, '31='), f) > 0, substring_index(substring(f, locate(concat(sep, '31='), f) + 4), sep, 1), null) as last_px_text,
        if(locate(concat(sep, '14='), f) > 0, substring_index(substring(f, locate(concat(sep, '14='), f) + 4), sep, 1), null) as cum_qty_text,
        if(locate(concat(sep, '151='), f) > 0, substring_index(substring(f, locate(concat(sep, '151='), f) + 5), sep, 1), null) as leaves_qty_text,
        if(locate(concat(sep, '6='), f) > 0, substring_index(substring(f, locate(concat(sep, '6='), f) + 3), sep, 1), null) as avg_px_text,
        if(locate(concat(sep, '58='), f) > 0, substring_index(substring(f, locate(concat(sep, '58='), f) + 4), sep, 1), null) as text,
        if(locate(concat(sep, '434='), f) > 0, substring_index(substring(f, locate(concat(sep, '434='), f) + 5), sep, 1), null) as cxl_rej_response_to,
        if(locate(concat(sep, '102='), f) > 0, substring_index(substring(f, locate(concat(sep, '102='), f) + 5), sep, 1), null) as cxl_rej_reason,
        if(locate(concat(sep, '555='), f) > 0, substring_index(substring(f, locate(concat(sep, '555='), f) + 5), sep, 1), null) as leg_count_text,
        if(locate(concat(sep, '9='), f) > 0, substring_index(substring(f, locate(concat(sep, '9='), f) + 3), sep, 1), null) as body_length_text,
        if(locate(concat(sep, '600='), f) = 0, '', substring(replace(regexp_replace(f, concat('\\Q', sep, '\\E(?!600=)[^', sep, ']*'), ''), concat(sep, '600='), ','), 2)) as leg_symbols,
        if(locate(concat(sep, '624='), f) = 0, '', substring(replace(regexp_replace(f, concat('\\Q', sep, '\\E(?!624=)[^', sep, ']*'), ''), concat(sep, '624='), ','), 2)) as leg_sides,
        if(locate(concat(sep, '623='), f) = 0, '', substring(replace(regexp_replace(f, concat('\\Q', sep, '\\E(?!623=)[^', sep, ']*'), ''), concat(sep, '623='), ','), 2)) as leg_ratio_qtys
    from framed
),
typed as (
    select
        p.*,
        if(price_text regexp '^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)$', cast(price_text as decimal(18,6)), null) as price,
        if(qty_text regexp '^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)$', cast(qty_text as decimal(18,6)), null) as qty,
        if(last_qty_text regexp '^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)$', cast(last_qty_text as decimal(18,6)), null) as last_qty,
        if(last_px_text regexp '^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)$', cast(last_px_text as decimal(18,6)), null) as last_px,
        if(cum_qty_text regexp '^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)$', cast(cum_qty_text as decimal(18,6)), null) as cum_qty,
        if(leaves_qty_text regexp '^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)$', cast(leaves_qty_text as decimal(18,6)), null) as leaves_qty,
        if(avg_px_text regexp '^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)$', cast(avg_px_text as decimal(18,6)), null) as avg_px,
        -- body: after the 9= field up to and including the separator before 10=
        if(locate(concat(sep, '10='), f) > locate(concat(sep, '9='), f) and locate(concat(sep, '9='), f) > 0,
           octet_length(substring(f, locate(sep, f, locate(concat(sep, '9='), f) + 1) + 1,
                                  locate(concat(sep, '10='), f) - locate(sep, f, locate(concat(sep, '9='), f) + 1))),
           null) as body_bytes
    from parsed p
)
select
    gateway, src_id, create_time, sid, upstream, direction, fix,
    case
        when trim(fix) = '' then 'empty message'
        when not concat(fix, if(right(fix, 1) = sep, '', sep)) regexp concat('^([0-9]+=[^', sep, ']*\\Q', sep, '\\E)+$') then 'field syntax error'
        when not (fix like '8=%' and substring_index(substring_index(fix, sep, 2), sep, -1) like '9=%'
                  and substring_index(substring_index(fix, sep, 3), sep, -1) like '35=%')
            then 'message must start with 8, 9, 35'
        when fix_msg_type = '' then 'MsgType (35) is empty'
        when body_bytes is not null and body_bytes <> cast(body_length_text as unsigned) then
            concat('BodyLength (9) is ', body_length_text, ' but the body has ', body_bytes, ' bytes')
        when price_text is not null and price is null then concat('Price (44) is not a decimal: ', price_text)
        when qty_text is not null and qty is null then concat('OrderQty (38) is not a decimal: ', qty_text)
        when last_qty_text is not null and last_qty is null then concat('LastQty (32) is not a decimal: ', last_qty_text)
        when last_px_text is not null and last_px is null then concat('LastPx (31) is not a decimal: ', last_px_text)
        when cum_qty_text is not null and cum_qty is null then concat('CumQty (14) is not a decimal: ', cum_qty_text)
        when leaves_qty_text is not null and leaves_qty is null then concat('LeavesQty (151) is not a decimal: ', leaves_qty_text)
    end as parse_error,
    fix_msg_type,
    if(msg_seq_num_text regexp '^[0-9]+$', cast(msg_seq_num_text as signed), null),
    if(ref_seq_num_text regexp '^[0-9]+$', cast(ref_seq_num_text as signed), null),
    ref_msg_type, session_reject_reason, cl_ord_id, orig_cl_ord_id, fix_order_id, exec_id,
    exec_type, ord_status, account, symbol, side_code, ord_type_code, tif_code,
    price, qty, last_qty, last_px, cum_qty, leaves_qty, avg_px,
    text, cxl_rej_response_to, cxl_rej_reason,
    if(leg_count_text regexp '^[0-9]+$', cast(leg_count_text as signed), null),
    leg_symbols, leg_sides, leg_ratio_qtys
from typed
