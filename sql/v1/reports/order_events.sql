-- order_events: the reportable order events of the day, independent of any destination.
-- Grain: one row per reportable lifecycle record that is an event; a record yields at most one:
--   NEW     client new order (in_new_req)
--   ROUTE   a new order or replace sent to an upstream (route_order_id: for a replace, the
--           client order id in force when it was sent)
--   MODIFY  a replace the upstream accepted (new client order id; prior id = OrigClOrdID)
--   CANCEL  a cancel confirmed to the client
--   FILL    a fill reported to the client
-- Reads: lifecycle (this and the previous trade date, for the responses to yesterday's
-- requests), order_refs (the ids of requests in other chains).
-- Design: 002 section 7.4 (EventType: the report kinds refined into event types). The CAT and
-- OATS stages map these events to their formats.
-- join_order: as_written
--
-- bucket_by: chain_id
-- Buckets: one run per chain bucket; a run reads its bucket of records (by partition) and the
-- day's order_refs.
with -- This bucket's order chains.
history as (
    select * exclude (trade_date, bucket), trade_date as rec_date
    from lifecycle
    where trade_date >= $trade_date - interval '1 day' and trade_date <= $trade_date
      and bucket = $bucket
),

-- How each upstream request was first answered.
route_outcomes as (
    select out_cl_ord_id, first_value(base_kind order by create_time, src_id) as first_response
    from history
    where gateway = 'outbound' and direction = 'recv' and out_cl_ord_id is not null
    group by out_cl_ord_id
),

-- Leaves quantity the client was told when a replace was accepted.
replace_acks as (
    select cl_ord_id, first_value(leaves_qty order by create_time, src_id) as leaves_qty
    from history
    where base_kind = 'in_rsp' and msg_type = 3 and exec_type = '5'
    group by cl_ord_id
),

events as (
    select
        r.*,
        case
            when r.record_kind = 'in_new_req' then 'NEW'
            when r.gateway = 'outbound' and r.direction = 'send' and r.msg_type in (0, 1) then 'ROUTE'
            when r.record_kind = 'in_req' and r.msg_type = 1 and r.req_status = 0 then 'MODIFY'
            when r.record_kind = 'in_rsp' and r.msg_type = 3 and r.exec_type = '4' then 'CANCEL'
            when r.record_kind = 'in_rsp' and r.msg_type = 3 and r.exec_type = 'F' then 'FILL'
        end as event_kind
    from history r
    where r.rec_date = $trade_date and r.reportable
),

-- Each event with its order key, its route's outcome and its replace's ack, one join at a time
-- with the small side first (`small right join events`): a hash join holds its first side in
-- memory, and the events are the big side.
-- The ids an event names in other chains (a replace may name a request of another chain) are
-- looked up in order_refs, once for the day.
refs as (
    select cl_ord_id, key_time, in_force
    from order_refs
    where trade_date = $trade_date
),

-- When each client order id (ClOrdID) an event names as OrigClOrdID was received: its order
-- key date.
with_key as (
    select e.*, k.key_time
    from refs k
    right join events e on k.cl_ord_id = e.orig_cl_ord_id
    where e.event_kind is not null
),

-- A route sent for a client's replace request modifies the route of the client order id in
-- force when it was sent (order_refs says which).
with_replaces as (
    select w.*, rr.in_force as route_order_id
    from refs rr
    right join with_key w
      on rr.cl_ord_id = w.req_cl_ord_id and w.event_kind = 'ROUTE' and w.msg_type = 1
),

with_route_key as (
    select w.*, rk.key_time as route_key_time
    from refs rk
    right join with_replaces w on rk.cl_ord_id = w.route_order_id
),

with_outcome as (
    select w.*, ro.first_response
    from route_outcomes ro
    right join with_route_key w on ro.out_cl_ord_id = w.out_cl_ord_id
),

with_ack as (
    select w.*, ra.leaves_qty as ack_leaves_qty
    from replace_acks ra
    right join with_outcome w on ra.cl_ord_id = w.cl_ord_id
),

final as (
    select
        e.gateway,
        e.src_id,
        e.create_time,
        e.event_kind,
        e.order_id,
        e.chain_id,
        e.cl_ord_id,
        e.req_cl_ord_id,
        e.orig_cl_ord_id,
        e.out_cl_ord_id,
        e.upstream,
        e.exec_id,
        e.symbol,
        e.side,
        e.ord_type,
        e.tif,
        e.price,
        e.qty,
        e.last_qty,
        e.last_px,
        e.cum_qty,
        case when e.event_kind = 'MODIFY' then e.ack_leaves_qty else e.leaves_qty end as leaves_qty,
        e.account_num,
        e.account_type,
        e.trading_session,
        e.is_multi_leg,
        e.recv_time,
        e.order_recv_time,
        e.key_time as prior_key_time,
        e.route_order_id,
        coalesce(e.first_response in ('out_new_rej_er', 'out_cxl_rej', 'out_rej'), false) as route_rejected,
        -- Eastern Time wall clock of each time, as regulators want it
        to_local_time(arrow_cast(e.create_time, 'Timestamp(µs, "America/New_York")')) as event_et,
        to_local_time(arrow_cast(e.recv_time, 'Timestamp(µs, "America/New_York")')) as recv_et,
        to_local_time(arrow_cast(e.order_recv_time, 'Timestamp(µs, "America/New_York")')) as order_et,
        to_local_time(arrow_cast(e.key_time, 'Timestamp(µs, "America/New_York")')) as prior_key_et,
        to_local_time(arrow_cast(e.route_key_time, 'Timestamp(µs, "America/New_York")')) as route_order_et
    from with_ack e
)

select * from final
order by create_time, gateway, src_id
