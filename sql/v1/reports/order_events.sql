-- order_events: the reportable order events of the day, independent of any destination.
-- Grain: one row per reportable lifecycle record that is an event; a record yields at most one:
--   NEW     client new order (in_new_req)
--   ROUTE   a new order or replace sent to an upstream (route_order_id: for a replace, the
--           client order id in force when it was sent)
--   MODIFY  a replace the upstream accepted (new client order id; prior id = OrigClOrdID)
--   CANCEL  a cancel confirmed to the client
--   FILL    a fill reported to the client
-- Reads: lifecycle (this and the previous trade date, for the ids of earlier requests).
-- Design: 002 section 7.4 (EventType: the report kinds refined into event types). The CAT and
-- OATS stages map these events to their formats.
-- join_order: as_written
--
-- bucket_by: chain_id
-- Buckets: one run per chain bucket; a run reads its bucket of records (by partition), and the
-- requests its events name as OrigClOrdID wherever they are.
with lifecycle_days as (
    select * exclude (trade_date, bucket), trade_date as rec_date, bucket as rec_bucket
    from lifecycle
    where trade_date >= $trade_date - interval '1 day' and trade_date <= $trade_date
),

-- This bucket's order chains.
history as (
    select * from lifecycle_days
    where rec_bucket = $bucket
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
-- When each client order id (ClOrdID) an event names as OrigClOrdID was received: its order
-- key date (looked up in every chain: a replace may name a request of another chain).
order_keys as (
    select h.cl_ord_id, min(h.create_time) as key_time
    from (select distinct orig_cl_ord_id from events where orig_cl_ord_id is not null) k
    join lifecycle_days h on h.cl_ord_id = k.orig_cl_ord_id
    where h.base_kind in ('in_new_req', 'in_req')
    group by h.cl_ord_id
),

with_key as (
    select e.*, k.key_time
    from order_keys k
    right join events e on k.cl_ord_id = e.orig_cl_ord_id
    where e.event_kind is not null
),

-- A route sent for a client's replace request (an upstream replace, msg_type 1) modifies the
-- route of the order in force when it was sent: the request's own id when the firm had
-- accepted it by then (the MODIFY event is at the request's receipt), else the id it replaces
-- (its OrigClOrdID), which stays in force when the replace is refused.
route_replaces as (
    select
        h.cl_ord_id,
        case
            when bool_or(h.req_status = 0) then h.cl_ord_id
            else first_value(h.orig_cl_ord_id order by h.create_time, h.src_id)
        end as in_force
    from (select distinct req_cl_ord_id from with_key where event_kind = 'ROUTE' and msg_type = 1) k
    join lifecycle_days h on h.cl_ord_id = k.req_cl_ord_id
    where h.record_kind = 'in_req' and h.msg_type = 1 and h.orig_cl_ord_id is not null
    group by h.cl_ord_id
),

replaced_keys as (
    select h.cl_ord_id, min(h.create_time) as key_time
    from (select distinct in_force from route_replaces) k
    join lifecycle_days h on h.cl_ord_id = k.in_force
    where h.base_kind in ('in_new_req', 'in_req')
    group by h.cl_ord_id
),

with_replaces as (
    select w.*, rr.in_force as route_order_id
    from route_replaces rr
    right join with_key w
      on rr.cl_ord_id = w.req_cl_ord_id and w.event_kind = 'ROUTE' and w.msg_type = 1
),

with_route_key as (
    select w.*, rk.key_time as route_key_time
    from replaced_keys rk
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
