-- oats_order_events: OATS order event records (#OE#) for every destination with
-- report = 'oats'. The file writer adds the #HD# header and the #TR# trailer.
-- Grain: one row per (destination, order event).
-- Reads: order_events, config.destinations.
-- Design: 002 sections 1 and 7.4 (OATS, per-downstream rules); format facts in
-- shared/reference/cat.md. OATS event codes NW (new), CR (cancel/replace), CL (cancel) are
-- published; RT (route) and EX (execution) and the field layout after the firm ROE id are
-- ordertrail's own, unverified against the retired OATS spec.
--
-- How the file writer reads this table: columns starting with '_' steer it and are not
-- written; the others are the record's fields after '#OE#', comma separated, in column order
-- (NULL is an empty field).
with events as (
    select * exclude (trade_date, bucket) from order_events where trade_date = $trade_date
),

destinations as (
    select destination
    from config.destinations
    where report = 'oats'
),

final as (
    select
        d.destination as _destination,
        e.create_time as _event_time,
        e.gateway as _gateway,
        e.src_id as _src_id,
        case e.event_kind
            when 'NEW' then 'NW'
            when 'ROUTE' then 'RT'
            when 'MODIFY' then 'CR'
            when 'CANCEL' then 'CL'
            when 'FILL' then 'EX'
        end as event_type,
        'N' as action_type,
        to_char(e.event_et, '%Y%m%d') || '_' || upper(substr(e.gateway, 1, 1)) || cast(e.src_id as varchar) as firm_roe_id,
        case when e.event_kind = 'CANCEL' then e.orig_cl_ord_id
             when e.event_kind = 'ROUTE' then e.req_cl_ord_id
             else e.cl_ord_id end as order_id,
        to_char(e.event_et, '%Y%m%d%H%M%S') as event_timestamp,
        e.symbol,
        case e.side when 'B' then 'B' when 'S' then 'SL' when 'SS' then 'SS' when 'SX' then 'SX' end as side,
        case when e.event_kind = 'FILL' then e.last_qty else e.qty end as quantity,
        case when e.event_kind = 'FILL' then e.last_px when e.ord_type = 'LMT' then e.price end as price,
        e.ord_type,
        e.tif,
        e.account_type,
        case when e.event_kind = 'ROUTE' then e.upstream end as routed_to,
        case when e.event_kind = 'ROUTE' then e.out_cl_ord_id end as routed_order_id,
        case when e.event_kind = 'MODIFY' then e.orig_cl_ord_id end as replaced_order_id
    from events e
    cross join destinations d
)

select * from final
order by _destination, _event_time, _gateway, _src_id
