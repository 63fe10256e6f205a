-- cat_order_events: FINRA CAT equity order events, for every destination with report = 'cat'.
-- Grain: one row per (destination, order event). Event types (CAT IM Tech Specs v4.1):
--   MENO / MLNO  NEW order from a client (MLNO for a multi-leg order, with legDetails)
--   MEOR         ROUTE of a new order to an upstream (multiLegInd for a leg of a multi-leg order)
--   MEMR         ROUTE of a client's replace request: modifies the route of the order in force
--   MEIR / MLIR  ROUTE to an upstream the destination maps as internal (the firm's own desk)
--   MEOM / MLOM  MODIFY (new orderID; priorOrderKeyDate/priorOrderID point at the replaced order)
--   MEOC / MLOC  CANCEL (cancelQty, leavesQty)
--   MEOF         FILL of the client order (fulfilled from the street execution; for a multi-leg
--                order one per leg, in the leg's symbol)
-- Reads: order_events, stg_fix_msg (the legs of multi-leg orders), config.destinations,
-- config.destination_upstreams.
-- Dates: CAT files an event under its Eastern-Time date (_event_date), while the lake's
-- trade_date is the UTC date: `report --date D` writes the rows of trade dates D and D+1 whose
-- _event_date is D.
-- Design: 002 section 7.4 (per-downstream and per-upstream field rules); the fields each event
-- type may and must have are spec/cat/fields.toml, which `ordertrail validate-cat` checks every
-- file against before `report` keeps it.
--
-- The firm's choices, per destination in the config: fulfillment_link_type (MEOF), the firm
-- account of firmDetails, receiving_desk_type (MEIR), sender_imid (CRD:IMID of routes to
-- industry members). Handling instructions: NH (not held) for market orders, below.
--
-- How the file writer reads this table: columns starting with '_' steer it and are not
-- written (_event_date: the Eastern-Time date whose file holds the event); every other column
-- is a JSON field, written in column order when not NULL; a struct is a JSON object of its
-- non-NULL fields, a list a JSON array (both omitted when empty); decimals are written exactly.
-- join_order: as_written
with events as (
    select * exclude (trade_date, bucket) from order_events where trade_date = $trade_date
),

destinations as (
    select
        destination,
        reporter_imid,
        sender_imid,
        coalesce(fulfillment_link_type, 'Y') as fulfillment_link_type,
        firm_designated_id,
        coalesce(firm_account_holder_type, 'P') as firm_account_holder_type,
        coalesce(receiving_desk_type, 'O') as receiving_desk_type
    from config.destinations
    where report = 'cat'
),

-- The legs of multi-leg new orders, from the client's message as stg_fix_msg parsed it (FIX
-- NoLegs group: 600 LegSymbol, 624 LegSide, 623 LegRatioQty).
leg_messages as (
    select n.order_id,
           m.leg_symbols,
           m.leg_sides,
           m.leg_ratio_qtys as leg_ratios
    from stg_fix_msg m
    join (select distinct gateway, src_id, order_id from events where event_kind = 'NEW' and is_multi_leg) n
      on m.gateway = n.gateway and m.src_id = n.src_id
    -- only messages with legs are read: the day's FIX text is the largest table of the lake
    where m.trade_date = $trade_date and m.gateway = 'inbound' and m.leg_count > 0
),

legs as (
    select
        order_id,
        cardinality(leg_symbols) as leg_count,
        with_field_names(
            arrays_zip(
                leg_symbols,
                -- FIX LegSide to CAT side
                array_replace_all(array_replace_all(array_replace_all(array_replace_all(
                    leg_sides, '1', 'B'), '2', 'SL'), '5', 'SS'), '6', 'SX'),
                arrow_cast(leg_ratios, 'List(Decimal128(18, 6))')
            ),
            'symbol', 'side', 'legRatioQuantity'
        ) as leg_details
    from leg_messages
),

-- Each event with its order's legs, the small side first (`small right join events`): a hash
-- join holds its first side in memory, and the events are the big side.
with_legs as (
    select t.*, l.leg_count, l.leg_details
    from legs l
    right join events t on l.order_id = t.order_id
),

-- Each event once per CAT destination (a handful of rows crossed with the events).
per_destination as (
    select
        t.*,
        d.destination as report_destination,
        d.reporter_imid,
        d.sender_imid,
        d.fulfillment_link_type,
        d.firm_designated_id,
        d.firm_account_holder_type,
        d.receiving_desk_type
    from destinations d
    cross join with_legs t
),

mapped as (
    select
        t.*,
        u.reported_as,
        u.destination_type,
        u.session as upstream_session,
        coalesce(u.internal, false) as internal,
        case
            when t.event_kind = 'ROUTE' and coalesce(u.internal, false) and t.is_multi_leg then 'MLIR'
            when t.event_kind = 'ROUTE' and coalesce(u.internal, false) then 'MEIR'
            when t.event_kind = 'ROUTE' and t.route_order_id is not null then 'MEMR'
            -- a multi-leg order is routed leg by leg: each leg a MEOR with multiLegInd
            when t.event_kind = 'ROUTE' then 'MEOR'
            when t.event_kind = 'NEW' and t.is_multi_leg then 'MLNO'
            when t.event_kind = 'NEW' then 'MENO'
            when t.event_kind = 'MODIFY' and t.is_multi_leg then 'MLOM'
            when t.event_kind = 'MODIFY' then 'MEOM'
            when t.event_kind = 'CANCEL' and t.is_multi_leg then 'MLOC'
            when t.event_kind = 'CANCEL' then 'MEOC'
            when t.event_kind = 'FILL' then 'MEOF'
        end as event_type,
        to_char(t.event_et, '%Y%m%dT%H%M%S%.6f') as event_ts,
        to_char(t.event_et, '%Y%m%d') as event_date,
        to_char(t.recv_et, '%Y%m%dT%H%M%S%.6f') as recv_ts,
        to_char(t.order_et, '%Y%m%dT%H%M%S%.6f') as order_ts,
        to_char(t.prior_key_et, '%Y%m%dT%H%M%S%.6f') as prior_key_ts,
        to_char(t.route_order_et, '%Y%m%dT%H%M%S%.6f') as route_key_ts,
        cast(t.event_et as date) as event_day,
        cast(to_char(t.order_et, '%Y%m%d') as int) as order_day,
        case t.side when 'B' then 'B' when 'S' then 'SL' when 'SS' then 'SS' when 'SX' then 'SX' end as cat_side,
        case t.trading_session
            when 'PRE' then 'PRE'
            when 'REG' then 'REG'
            when 'POST' then 'POST'
            when 'OVERNIGHT' then 'ALL'
        end as cat_session
    from config.destination_upstreams u
    right join per_destination t
      on u.destination = t.report_destination and u.upstream = t.upstream
),

final as (
    select
        report_destination as _destination,
        event_day as _event_date,
        create_time as _event_time,
        gateway as _gateway,
        src_id as _src_id,
        'NEW' as "actionType",
        event_date || '_' || event_type || '-' || upper(substr(gateway, 1, 1)) || cast(src_id as varchar) as "firmROEID",
        event_type as "type",
        reporter_imid as "CATReporterIMID",
        case
            when event_type in ('MENO', 'MLNO', 'MEOR', 'MEIR', 'MLIR', 'MEOM', 'MLOM') then recv_ts
            when event_type = 'MEMR' then route_key_ts
            when event_type in ('MEOC', 'MLOC') then prior_key_ts
        end as "orderKeyDate",
        case
            when event_type in ('MENO', 'MLNO', 'MEOM', 'MLOM') then cl_ord_id
            when event_type in ('MEOR', 'MEIR', 'MLIR') then req_cl_ord_id
            when event_type = 'MEMR' then route_order_id
            when event_type in ('MEOC', 'MLOC') then orig_cl_ord_id
        end as "orderID",
        case when event_type in ('MEOM', 'MLOM') then prior_key_ts end as "priorOrderKeyDate",
        case when event_type in ('MEOM', 'MLOM') then orig_cl_ord_id end as "priorOrderID",
        case when event_type = 'MEOF' then event_ts end as "fillKeyDate",
        case when event_type = 'MEOF' then exec_id end as "fulfillmentID",
        -- multi-leg events name their legs' symbols in legDetails, not a symbol of their own
        case when event_type not like 'ML%' then symbol end as "symbol",
        event_ts as "eventTimestamp",
        false as "manualFlag",
        case when event_type in ('MENO', 'MLNO', 'MEOR', 'MEOM', 'MLOM') then false end as "electronicDupFlag",
        case when event_type in ('MENO', 'MLNO', 'MEIR', 'MLIR') then 'A' end as "deptType",
        case when event_type in ('MEIR', 'MLIR') then receiving_desk_type end as "receivingDeskType",
        case when event_type in ('MENO', 'MLNO') then false end as "solicitationFlag",
        case when event_type in ('MEOR', 'MEMR') and destination_type = 'F' then sender_imid end as "senderIMID",
        case when event_type in ('MEOR', 'MEMR') then reported_as end as "destination",
        case when event_type in ('MEOR', 'MEMR') then destination_type end as "destinationType",
        case when event_type in ('MEOR', 'MEMR') then out_cl_ord_id end as "routedOrderID",
        case when event_type = 'MEMR' then orig_cl_ord_id end as "priorRoutedOrderID",
        case when event_type in ('MEOR', 'MEMR') and destination_type = 'E' then coalesce(upstream_session, cat_session) end as "session",
        case when event_type in ('MEOM', 'MLOM', 'MEOC', 'MLOC') then 'C' end as "initiator",
        case when event_type in ('MEOC', 'MLOC') then recv_ts end as "requestTimestamp",
        case when event_type in ('MENO', 'MEOR', 'MEMR', 'MEIR', 'MEOM') then cat_side end as "side",
        case when event_type in ('MENO', 'MLNO', 'MEOR', 'MEMR', 'MEIR', 'MLIR', 'MEOM', 'MLOM') and ord_type = 'LMT' then price
             when event_type = 'MEOF' then last_px end as "price",
        case when event_type in ('MENO', 'MLNO', 'MEOR', 'MEMR', 'MEIR', 'MLIR', 'MEOM', 'MLOM') then qty
             when event_type = 'MEOF' then last_qty end as "quantity",
        case when event_type in ('MEOC', 'MLOC') then qty - cum_qty end as "cancelQty",
        case when event_type in ('MEOM', 'MLOM', 'MEOC', 'MLOC') then leaves_qty end as "leavesQty",
        case when event_type in ('MENO', 'MLNO', 'MEOR', 'MEMR', 'MEIR', 'MLIR', 'MEOM', 'MLOM') then ord_type end as "orderType",
        case when event_type in ('MENO', 'MLNO', 'MEOR', 'MEMR', 'MEIR', 'MLIR', 'MEOM', 'MLOM') then
            named_struct(
                'DAY', case when tif = 'DAY' then order_day end,
                'GTC', case when tif = 'GTC' then true end,
                'IOC', case when tif = 'IOC' then true end
            )
        end as "timeInForce",
        case when event_type in ('MENO', 'MLNO', 'MEOR', 'MEMR', 'MEIR', 'MLIR', 'MEOM', 'MLOM') then cat_session end as "tradingSession",
        case when event_type in ('MENO', 'MLNO', 'MEOR', 'MEMR', 'MEIR', 'MLIR') then
            named_struct('NH', case when ord_type = 'MKT' then true end)
        end as "handlingInstructions",
        case when event_type in ('MENO', 'MEOM') then false end as "custDspIntrFlag",
        case when event_type in ('MENO', 'MLNO') then account_num end as "firmDesignatedID",
        case when event_type in ('MENO', 'MLNO') then account_type end as "accountHolderType",
        case when event_type in ('MENO', 'MLNO', 'MEOR', 'MEMR') then false end as "affiliateFlag",
        case when event_type = 'MENO' then false end as "negotiatedTradeFlag",
        case when event_type in ('MENO', 'MLNO', 'MEOM', 'MLOM') then 'N' end as "representativeInd",
        case when event_type in ('MEOR', 'MEMR', 'MEOM') then 'NA' end as "isoInd",
        case when event_type in ('MEOR', 'MEMR') then route_rejected end as "routeRejectedFlag",
        case when event_type in ('MEOR', 'MEMR') then false end as "dupROIDCond",
        case when event_type in ('MEOR', 'MEMR', 'MEIR') then is_multi_leg end as "multiLegInd",
        case when event_type in ('MLNO', 'MLOM', 'MLIR') then leg_count end as "numberOfLegs",
        case when event_type in ('MLNO', 'MLOM', 'MLIR') then leg_details end as "legDetails",
        case when event_type = 'MEOF' then fulfillment_link_type end as "fulfillmentLinkType",
        case when event_type = 'MEOF' then false end as "cancelFlag",
        case when event_type = 'MEOF' then 'A' end as "capacity",
        case when event_type = 'MEOF' then
            make_array(named_struct('orderKeyDate', recv_ts, 'orderID', cl_ord_id, 'side', cat_side))
        end as "clientDetails",
        -- the firm's side of the fulfillment: the firm account sells what the client buys
        case when event_type = 'MEOF' then
            make_array(named_struct(
                'side', case when cat_side = 'B' then 'SL' else 'B' end,
                'firmDesignatedID', firm_designated_id,
                'accountHolderType', firm_account_holder_type
            ))
        end as "firmDetails"
    from mapped
)

select * from final
order by _destination, _event_time, _gateway, _src_id
