-- flow_complete: each flow message completed with its cross-service ids: the internal order
-- id, the client request it belongs to, and for session-level rejects the message rejected.
-- Grain: one row per flow row of the trade date.
-- Reads: flow, reject_refs, idmap.id_map (this and the previous trade date, for orders that
-- cross midnight).
-- Design: 002 section 6 (single-message completion).
-- Window: the messages created in [$window_start, $window_end), plus earlier messages of the
-- day whose ClOrdID the OMS mapped only in this window (they are completed again). The id map
-- is read as it stood at $window_end; the message a session reject refers to is the one
-- reject_refs found in the reject's own window.
-- unique_key: gateway, src_id
-- event_time: create_time
-- join_order: as_written
--
-- bucket_by: chain_id
-- Buckets: one run per bucket of the ClOrdID a message carries or answers (own_cl_ord_id), the
-- key of every id map lookup: a run reads its bucket of flow (written in buckets of cl_ord_id)
-- and the id map rows of its ClOrdIDs. Here the day is split by order chain: each row is
-- written to the bucket of its chain_id, where every later stage reads it.
--
-- req_key names the client request a message belongs to: 'req:<client ClOrdID>' for requests
-- and everything answering them (upstream traffic via the id map), 'msg:<gateway>:<src_id>'
-- for a message that carries no usable ClOrdID. chain_id groups the messages of one order:
-- the internal order id, or the req_key for requests that never became an order.
-- This bucket's messages, and the session rejects whose own_cl_ord_id is the rejected
-- message's (cl_ord_id NULL, so in bucket 0 of flow; decided after the reject is completed).
with bucket_flow as (
    select * exclude (trade_date, bucket) from flow
    where trade_date = $trade_date and create_time < $window_end and bucket = $bucket
    union all
    select * exclude (trade_date, bucket) from flow
    where trade_date = $trade_date and create_time < $window_end
      and bucket = 0 and cl_ord_id is null and $bucket <> 0
),

id_map as (
    select * from idmap.id_map
    where trade_date >= $trade_date - interval '1 day' and trade_date <= $trade_date
      and create_time < $window_end
),

-- ClOrdIDs the OMS mapped during this window.
new_ids as (
    select in_cl_ord_id as cl_ord_id from id_map
    where create_time >= $window_start and bucket(in_cl_ord_id, $buckets) = $bucket
    union
    select out_cl_ord_id from id_map
    where create_time >= $window_start and out_cl_ord_id is not null
      and bucket(out_cl_ord_id, $buckets) = $bucket
),

client_ids as (
    select in_cl_ord_id, min(order_id) as order_id
    from id_map
    where bucket(in_cl_ord_id, $buckets) = $bucket
    group by in_cl_ord_id
),

upstream_ids as (
    select out_cl_ord_id, min(order_id) as order_id, min(in_cl_ord_id) as in_cl_ord_id
    from id_map
    where out_cl_ord_id is not null and bucket(out_cl_ord_id, $buckets) = $bucket
    group by out_cl_ord_id
),

-- The message each session-level reject (35=3) rejects (computed once for all buckets).
rejected_refs as (
    select gateway, src_id, ref_src_id, ref_cl_ord_id
    from reject_refs
    where trade_date = $trade_date and create_time < $window_end
),

completed as (
    select
        f.*,
        rr.ref_src_id,
        -- the ClOrdID this message carries or answers, on its own gateway's side
        coalesce(f.cl_ord_id, rr.ref_cl_ord_id) as own_cl_ord_id
    from rejected_refs rr
    right join bucket_flow f
      on rr.gateway = f.gateway and rr.src_id = f.src_id
    where bucket(coalesce(f.cl_ord_id, rr.ref_cl_ord_id), $buckets) = $bucket
),

-- This window's messages, and earlier ones whose ids were mapped in this window.
emitted as (
    select c.*
    from (select distinct cl_ord_id from new_ids) n
    right join completed c on n.cl_ord_id = c.own_cl_ord_id
    where c.create_time >= $window_start or n.cl_ord_id is not null
),

-- The order ids: joins put the small side (the id map) first, it is held in memory.
with_client_ids as (
    select c.*, ci.order_id as client_order_id
    from client_ids ci
    right join emitted c
      on c.gateway = 'inbound' and ci.in_cl_ord_id = c.own_cl_ord_id
),

with_ids as (
    select c.*, u.order_id as upstream_order_id, u.in_cl_ord_id as upstream_in_cl_ord_id
    from upstream_ids u
    right join with_client_ids c
      on c.gateway = 'outbound' and u.out_cl_ord_id = c.own_cl_ord_id
),

final as (
    select
        c.gateway,
        c.src_id,
        c.create_time,
        c.sid,
        c.upstream,
        c.direction,
        c.msg_type,
        c.fix_msg_type,
        c.is_request,
        c.parse_error,
        case when c.gateway = 'inbound' then c.own_cl_ord_id else c.upstream_in_cl_ord_id end as req_cl_ord_id,
        case when c.gateway = 'outbound' then c.own_cl_ord_id end as out_cl_ord_id,
        coalesce(c.client_order_id, c.upstream_order_id) as order_id,
        coalesce(
            'req:' || case when c.gateway = 'inbound' then c.own_cl_ord_id else c.upstream_in_cl_ord_id end,
            'msg:' || c.gateway || ':' || cast(coalesce(c.ref_src_id, c.src_id) as varchar)
        ) as req_key,
        c.ref_src_id,
        c.msg_seq_num,
        c.ref_seq_num,
        c.session_reject_reason,
        c.cl_ord_id,
        c.orig_cl_ord_id,
        c.fix_order_id,
        c.exec_id,
        c.exec_type,
        c.ord_status,
        c.account,
        c.symbol,
        c.side,
        c.ord_type,
        c.tif,
        c.price,
        c.qty,
        c.last_qty,
        c.last_px,
        c.cum_qty,
        c.leaves_qty,
        c.avg_px,
        c.text,
        c.cxl_rej_response_to,
        c.cxl_rej_reason,
        c.leg_count,
        c.leg_symbols,
        c.leg_sides,
        c.leg_ratio_qtys
    from with_ids c
)

select
    *,
    coalesce(order_id, req_key) as chain_id
from final
order by gateway, src_id
