-- stg_fix_msg: every FIX message logged by the inbound (client) and outbound (upstream)
-- gateways, with the fields reports need parsed out and typed.
-- Grain: one row per inbound.fix_msg or outbound.fix_msg row of the trade date.
-- Window: the messages created in [$window_start, $window_end); nothing earlier is needed.
-- unique_key: gateway, src_id
-- event_time: create_time
-- Reads: inbound.fix_msg, outbound.fix_msg.
-- Design: 002 section 6.2 (extract target records, parse FIX fields).
-- A malformed message is kept, with parse_error saying why; numbers that do not parse become
-- NULL here and are reported in parse_error, never a failed run.
with inbound as (
    select 'inbound' as gateway, id as src_id, create_time, sid, cast(null as varchar) as upstream,
           direction, fix
    from inbound.fix_msg
    where trade_date = $trade_date
      and create_time >= $window_start and create_time < $window_end
),

outbound as (
    select 'outbound' as gateway, id as src_id, create_time, sid, upstream, direction, fix
    from outbound.fix_msg
    where trade_date = $trade_date
      and create_time >= $window_start and create_time < $window_end
),

messages as (
    select * from inbound
    union all
    select * from outbound
),

parsed as (
    select
        gateway,
        src_id,
        create_time,
        sid,
        upstream,
        direction,
        fix,
        fix_error(fix)                                   as fix_syntax_error,
        fix_tag(fix, 35)                                 as fix_msg_type,
        try_cast(fix_tag(fix, 34) as bigint)             as msg_seq_num,
        try_cast(fix_tag(fix, 45) as bigint)             as ref_seq_num,
        fix_tag(fix, 372)                                as ref_msg_type,
        fix_tag(fix, 373)                                as session_reject_reason,
        fix_tag(fix, 11)                                 as cl_ord_id,
        fix_tag(fix, 41)                                 as orig_cl_ord_id,
        fix_tag(fix, 37)                                 as fix_order_id,
        fix_tag(fix, 17)                                 as exec_id,
        fix_tag(fix, 150)                                as exec_type,
        fix_tag(fix, 39)                                 as ord_status,
        fix_tag(fix, 1)                                  as account,
        fix_tag(fix, 55)                                 as symbol,
        fix_tag(fix, 54)                                 as side_code,
        fix_tag(fix, 40)                                 as ord_type_code,
        fix_tag(fix, 59)                                 as tif_code,
        fix_tag(fix, 44)                                 as price_text,
        fix_tag(fix, 38)                                 as qty_text,
        fix_tag(fix, 32)                                 as last_qty_text,
        fix_tag(fix, 31)                                 as last_px_text,
        fix_tag(fix, 14)                                 as cum_qty_text,
        fix_tag(fix, 151)                                as leaves_qty_text,
        fix_tag(fix, 6)                                  as avg_px_text,
        fix_tag(fix, 58)                                 as text,
        fix_tag(fix, 434)                                as cxl_rej_response_to,
        fix_tag(fix, 102)                                as cxl_rej_reason,
        try_cast(fix_tag(fix, 555) as int)               as leg_count,
        fix_tags(fix, 600)                               as leg_symbols,
        fix_tags(fix, 624)                               as leg_sides,
        fix_tags(fix, 623)                               as leg_ratio_qtys
    from messages
),

typed as (
    select
        *,
        try_cast(price_text as decimal(18, 6))      as price,
        try_cast(qty_text as decimal(18, 6))        as qty,
        try_cast(last_qty_text as decimal(18, 6))   as last_qty,
        try_cast(last_px_text as decimal(18, 6))    as last_px,
        try_cast(cum_qty_text as decimal(18, 6))    as cum_qty,
        try_cast(leaves_qty_text as decimal(18, 6)) as leaves_qty,
        try_cast(avg_px_text as decimal(18, 6))     as avg_px
    from parsed
),

final as (
    select
        gateway,
        src_id,
        create_time,
        sid,
        upstream,
        direction,
        fix,
        coalesce(
            fix_syntax_error,
            case when price_text is not null and price is null then 'Price (44) is not a decimal: ' || price_text end,
            case when qty_text is not null and qty is null then 'OrderQty (38) is not a decimal: ' || qty_text end,
            case when last_qty_text is not null and last_qty is null then 'LastQty (32) is not a decimal: ' || last_qty_text end,
            case when last_px_text is not null and last_px is null then 'LastPx (31) is not a decimal: ' || last_px_text end,
            case when cum_qty_text is not null and cum_qty is null then 'CumQty (14) is not a decimal: ' || cum_qty_text end,
            case when leaves_qty_text is not null and leaves_qty is null then 'LeavesQty (151) is not a decimal: ' || leaves_qty_text end
        ) as parse_error,
        fix_msg_type,
        msg_seq_num,
        ref_seq_num,
        ref_msg_type,
        session_reject_reason,
        cl_ord_id,
        orig_cl_ord_id,
        fix_order_id,
        exec_id,
        exec_type,
        ord_status,
        account,
        symbol,
        side_code,
        ord_type_code,
        tif_code,
        price,
        qty,
        last_qty,
        last_px,
        cum_qty,
        leaves_qty,
        avg_px,
        text,
        cxl_rej_response_to,
        cxl_rej_reason,
        leg_count,
        leg_symbols,
        leg_sides,
        leg_ratio_qtys
    from typed
)

select * from final
order by gateway, src_id
