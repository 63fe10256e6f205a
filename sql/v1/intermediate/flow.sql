-- flow: the unified message flow. Every target FIX message from both gateways, with one set of
-- field names and value codes: msg_type 0-5, side B/S/SS/SX, ord_type MKT/LMT, tif DAY/GTC/...
-- Grain: one row per target message (stg_fix_msg row) of the trade date. Malformed messages
-- are kept (msg_type NULL, parse_error set); well-formed non-target messages (heartbeats,
-- logons, ...) go to flow_quarantine instead.
-- Reads: stg_fix_msg.
-- Window: the messages created in [$window_start, $window_end).
-- unique_key: gateway, src_id
-- event_time: create_time
-- Design: 002 section 6.2 (format conversion and unification, the flow table).
-- bucket_by: cl_ord_id
-- Written in buckets of the ClOrdID (NULL: bucket 0), so that each run of flow_complete reads
-- the messages of its ClOrdIDs only.
--
-- msg_type | name          | req/rsp | FIX 35
-- 0        | order_new     | req     | D, AB (multi-leg)
-- 1        | order_replace | req     | G
-- 2        | order_cancel  | req     | F
-- 3        | exec_report   | rsp     | 8 (includes new-order rejects)
-- 4        | cxl_rej       | rsp     | 9 (includes other rejects)
-- 5        | rej           | rsp     | 3, j (session and business-level rejects)
with messages as (
    select * exclude (trade_date) from stg_fix_msg
    where trade_date = $trade_date
      and create_time >= $window_start and create_time < $window_end
),

unified as (
    select
        gateway,
        src_id,
        create_time,
        sid,
        upstream,
        direction,
        case
            when parse_error like 'field%' or parse_error like 'message must%'
              or parse_error = 'empty message' then null
            when fix_msg_type in ('D', 'AB') then 0
            when fix_msg_type = 'G' then 1
            when fix_msg_type = 'F' then 2
            when fix_msg_type = '8' then 3
            when fix_msg_type = '9' then 4
            when fix_msg_type in ('3', 'j') then 5
        end as msg_type,
        fix_msg_type,
        parse_error,
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
        case side_code
            when '1' then 'B'
            when '2' then 'S'
            when '5' then 'SS'
            when '6' then 'SX'
        end as side,
        case ord_type_code
            when '1' then 'MKT'
            when '2' then 'LMT'
        end as ord_type,
        case tif_code
            when '0' then 'DAY'
            when '1' then 'GTC'
            when '3' then 'IOC'
            when '4' then 'FOK'
            when '6' then 'GTD'
        end as tif,
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
        leg_ratio_qtys,
        fix
    from messages
),

final as (
    select
        *,
        msg_type in (0, 1, 2) as is_request
    from unified
    -- target messages, plus messages too malformed to know their type
    where msg_type is not null or parse_error is not null
)

select * from final
order by gateway, src_id
