-- cat_order_events: FINRA CAT equity order events, for every destination with report = 'cat'.
-- Grain: one row per (destination, order event). Event types:
--   MENO  NEW order from a client
--   MEOR  ROUTE to an upstream; MEIR when the destination maps the upstream as internal
--   MEOM  MODIFY (new orderID; priorOrderKeyDate/priorOrderID point at the replaced order)
--   MEOC  CANCEL (cancelQty, leavesQty)
--   MEOF  FILL of the client order (agency: fulfilled from the street execution)
-- Reads: order_events, config.destinations, config.destination_upstreams.
-- Design: 002 section 7.4 (per-downstream and per-upstream field rules); format facts in
-- shared/reference/cat.md.
--
-- How the file writer reads this table: columns starting with '_' steer it and are not
-- written; every other column is a JSON field, written in column order when not NULL; a
-- struct is a JSON object of its non-NULL fields (omitted when it has none); decimals are
-- written exactly.
with events as (
    select * exclude (trade_date) from order_events where trade_date = $trade_date
),

destinations as (
    select destination, reporter_imid
    from config.destinations
    where report = 'cat'
),

mapped as (
    select
        t.*,
        d.destination as report_destination,
        d.reporter_imid,
        u.reported_as,
        u.destination_type,
        u.session as upstream_session,
        coalesce(u.internal, false) as internal,
        case
            when t.event_kind = 'ROUTE' and coalesce(u.internal, false) then 'MEIR'
            when t.event_kind = 'ROUTE' then 'MEOR'
            when t.event_kind = 'NEW' then 'MENO'
            when t.event_kind = 'MODIFY' then 'MEOM'
            when t.event_kind = 'CANCEL' then 'MEOC'
            when t.event_kind = 'FILL' then 'MEOF'
        end as event_type,
        to_char(t.event_et, '%Y%m%dT%H%M%S%.6f') as event_ts,
        to_char(t.event_et, '%Y%m%d') as event_date,
        to_char(t.recv_et, '%Y%m%dT%H%M%S%.6f') as recv_ts,
        to_char(t.order_et, '%Y%m%dT%H%M%S%.6f') as order_ts,
        to_char(t.prior_key_et, '%Y%m%dT%H%M%S%.6f') as prior_key_ts,
        cast(to_char(t.order_et, '%Y%m%d') as int) as order_day,
        case t.side when 'B' then 'B' when 'S' then 'SL' when 'SS' then 'SS' when 'SX' then 'SX' end as cat_side,
        case t.trading_session
            when 'PRE' then 'PRE'
            when 'REG' then 'REG'
            when 'POST' then 'POST'
            when 'OVERNIGHT' then 'ALL'
        end as cat_session
    from events t
    cross join destinations d
    left join config.destination_upstreams u
      on u.destination = d.destination and u.upstream = t.upstream
),

final as (
    select
        report_destination as _destination,
        create_time as _event_time,
        gateway as _gateway,
        src_id as _src_id,
        'NEW' as "actionType",
        event_date || '_' || event_type || '-' || upper(substr(gateway, 1, 1)) || cast(src_id as varchar) as "firmROEID",
        event_type as "type",
        reporter_imid as "CATReporterIMID",
        case event_type
            when 'MENO' then recv_ts
            when 'MEOR' then recv_ts
            when 'MEIR' then recv_ts
            when 'MEOM' then recv_ts
            when 'MEOC' then prior_key_ts
        end as "orderKeyDate",
        case event_type
            when 'MENO' then cl_ord_id
            when 'MEOR' then req_cl_ord_id
            when 'MEIR' then req_cl_ord_id
            when 'MEOM' then cl_ord_id
            when 'MEOC' then orig_cl_ord_id
        end as "orderID",
        case when event_type = 'MEOM' then prior_key_ts end as "priorOrderKeyDate",
        case when event_type = 'MEOM' then orig_cl_ord_id end as "priorOrderID",
        case when event_type = 'MEOF' then event_ts end as "fillKeyDate",
        case when event_type = 'MEOF' then exec_id end as "fulfillmentID",
        symbol as "symbol",
        event_ts as "eventTimestamp",
        false as "manualFlag",
        case when event_type in ('MENO', 'MEOR', 'MEOM') then false end as "electronicDupFlag",
        case when event_type in ('MENO', 'MEIR') then 'A' end as "deptType",
        case when event_type = 'MEIR' then 'O' end as "receivingDeskType",
        case when event_type = 'MENO' then false end as "solicitationFlag",
        case when event_type = 'MEOR' then reported_as end as "destination",
        case when event_type = 'MEOR' then destination_type end as "destinationType",
        case when event_type = 'MEOR' then out_cl_ord_id end as "routedOrderID",
        case when event_type = 'MEOR' and destination_type = 'E' then coalesce(upstream_session, cat_session) end as "session",
        case when event_type in ('MEOM', 'MEOC') then 'C' end as "initiator",
        case when event_type = 'MEOC' then recv_ts end as "requestTimestamp",
        case when event_type in ('MENO', 'MEOR', 'MEIR', 'MEOM') then cat_side end as "side",
        case when event_type in ('MENO', 'MEOR', 'MEIR', 'MEOM') and ord_type = 'LMT' then price
             when event_type = 'MEOF' then last_px end as "price",
        case when event_type in ('MENO', 'MEOR', 'MEIR', 'MEOM') then qty
             when event_type = 'MEOF' then last_qty end as "quantity",
        case when event_type = 'MEOC' then qty - cum_qty end as "cancelQty",
        case when event_type in ('MEOM', 'MEOC') then leaves_qty end as "leavesQty",
        case when event_type in ('MENO', 'MEOR', 'MEIR', 'MEOM') then ord_type end as "orderType",
        case when event_type in ('MENO', 'MEOR', 'MEIR', 'MEOM') then
            named_struct(
                'DAY', case when tif = 'DAY' then order_day end,
                'GTC', case when tif = 'GTC' then true end,
                'IOC', case when tif = 'IOC' then true end
            )
        end as "timeInForce",
        case when event_type in ('MENO', 'MEOR', 'MEIR', 'MEOM') then cat_session end as "tradingSession",
        case when event_type in ('MENO', 'MEOR', 'MEIR') then
            named_struct('NH', case when ord_type = 'MKT' then true end)
        end as "handlingInstructions",
        case when event_type in ('MENO', 'MEOM') then false end as "custDspIntrFlag",
        case when event_type = 'MENO' then account_num end as "firmDesignatedID",
        case when event_type = 'MENO' then account_type end as "accountHolderType",
        case when event_type in ('MENO', 'MEOR') then false end as "affiliateFlag",
        case when event_type = 'MENO' then false end as "negotiatedTradeFlag",
        case when event_type in ('MENO', 'MEOM') then 'N' end as "representativeInd",
        case when event_type in ('MEOR', 'MEIR', 'MEOM') then 'NA' end as "isoInd",
        case when event_type = 'MEOR' then route_rejected end as "routeRejectedFlag",
        case when event_type = 'MEOR' then false end as "dupROIDCond",
        case when event_type = 'MEOR' then is_multi_leg end as "multiLegInd",
        -- fulfillmentLinkType 'Y' (linked to the street execution) is unverified against the spec
        case when event_type = 'MEOF' then 'Y' end as "fulfillmentLinkType",
        case when event_type = 'MEOF' then false end as "cancelFlag",
        case when event_type = 'MEOF' then 'A' end as "capacity",
        case when event_type = 'MEOF' then
            named_struct('orderKeyDate', recv_ts, 'orderID', cl_ord_id, 'side', cat_side)
        end as "clientDetails"
    from mapped
)

select * from final
order by _destination, _event_time, _gateway, _src_id
