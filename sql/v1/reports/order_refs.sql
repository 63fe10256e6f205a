-- order_refs: the client order ids (ClOrdIDs) the day's order events name in other records,
-- looked up once for the day: when each was received (its order key date), and, for a client's
-- replace request sent upstream, which client order id was in force for its route.
-- Grain: one row per ClOrdID that a record of the trade date names as OrigClOrdID, that is the
-- request of an upstream replace sent that day, or that is in force for such a replace.
-- Reads: lifecycle (this and the previous trade date, for requests made yesterday).
-- Design: 002 section 7.4 (an event's prior order key; a route's order id).
-- join_order: as_written
--
-- A stage of its own rather than lookups in order_events: order_events runs per chain bucket,
-- and a replace may name a request of another chain, so each bucket run read the whole two
-- days of lifecycle three times (at 1M orders in 32 buckets it took 3x its time in 8).
-- The keys are those of every record of the day, a superset of the events' own: a lookup by
-- key gives the same answer whichever other keys are looked up with it.
with lifecycle_days as (
    select
        cl_ord_id, req_cl_ord_id, orig_cl_ord_id, gateway, direction, base_kind, record_kind,
        msg_type, req_status, create_time, src_id, trade_date as rec_date
    from lifecycle
    where trade_date >= $trade_date - interval '1 day' and trade_date <= $trade_date
),

-- Ids named as OrigClOrdID by the day's records.
named as (
    select distinct orig_cl_ord_id as cl_ord_id
    from lifecycle_days
    where rec_date = $trade_date and orig_cl_ord_id is not null
),

-- A route sent for a client's replace request (an upstream replace, msg_type 1) modifies the
-- route of the order in force when it was sent: the request's own id when the firm had
-- accepted it by then (the MODIFY event is at the request's receipt), else the id it replaces
-- (its OrigClOrdID), which stays in force when the replace is refused.
replaces as (
    select
        h.cl_ord_id,
        case
            when bool_or(h.req_status = 0) then h.cl_ord_id
            else first_value(h.orig_cl_ord_id order by h.create_time, h.src_id)
        end as in_force
    from (
        select distinct req_cl_ord_id
        from lifecycle_days
        where rec_date = $trade_date and gateway = 'outbound' and direction = 'send'
          and msg_type = 1 and req_cl_ord_id is not null
    ) k
    join lifecycle_days h on h.cl_ord_id = k.req_cl_ord_id
    where h.record_kind = 'in_req' and h.msg_type = 1 and h.orig_cl_ord_id is not null
    group by h.cl_ord_id
),

-- When each id named, or in force for a replace, was first received as a client request.
key_times as (
    select h.cl_ord_id, min(h.create_time) as key_time
    from (
        select cl_ord_id from named
        union
        select in_force from replaces
    ) k
    join lifecycle_days h on h.cl_ord_id = k.cl_ord_id
    where h.base_kind in ('in_new_req', 'in_req')
    group by h.cl_ord_id
)

select coalesce(k.cl_ord_id, r.cl_ord_id) as cl_ord_id, k.key_time, r.in_force
from key_times k
full outer join replaces r on r.cl_ord_id = k.cl_ord_id
order by cl_ord_id
