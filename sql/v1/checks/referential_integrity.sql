-- referential_integrity: every reference resolves: id map and route rows name an existing
-- order, every replace or cancel names an earlier request of its order, every fill belongs to
-- a known request.
-- severity: error
-- threshold: 0
-- Reads: lifecycle, oms.orders, idmap.id_map, ems.route (this and the previous trade date).
-- Design: 002 section 11.6 (TRADE_ID has a valid ORDER_ID; PARENT_ID resolves).
-- Buckets: id map and route rows are compared with orders of their order id (an order's chain
-- id), requests within their chain, so it runs once per chain bucket.
with orders as (
    select distinct order_id from oms.orders
    where trade_date >= $trade_date - interval '1 day' and trade_date <= $trade_date
      and bucket(order_id, $buckets) = $bucket
),

history as (
    select * exclude (trade_date, bucket), trade_date as rec_date
    from lifecycle
    where trade_date >= $trade_date - interval '1 day' and trade_date <= $trade_date
      and bucket = $bucket
),

requests as (
    select distinct chain_id, cl_ord_id
    from history
    where base_kind in ('in_new_req', 'in_req') and cl_ord_id is not null
),

problems as (
    select m.order_id as check_key, 'id map row ' || cast(m.id as varchar) || ' names an unknown order' as problem
    from idmap.id_map m
    left join orders o on o.order_id = m.order_id
    where m.trade_date = $trade_date and o.order_id is null and bucket(m.order_id, $buckets) = $bucket
    union all
    select r.order_id, 'route ' || r.route_id || ' names an unknown order'
    from ems.route r
    left join orders o on o.order_id = r.order_id
    where r.trade_date = $trade_date and o.order_id is null and bucket(r.order_id, $buckets) = $bucket
    union all
    select h.cl_ord_id, 'OrigClOrdID ' || h.orig_cl_ord_id || ' is not an earlier request of the order'
    from history h
    left join requests q on q.chain_id = h.chain_id and q.cl_ord_id = h.orig_cl_ord_id
    where h.rec_date = $trade_date and h.base_kind = 'in_req' and h.msg_type in (1, 2)
      and h.orig_cl_ord_id is not null and q.cl_ord_id is null
    union all
    select h.exec_id, 'fill for ClOrdID ' || coalesce(h.cl_ord_id, '(null)') || ' of no known request'
    from history h
    left join requests q on q.chain_id = h.chain_id and q.cl_ord_id = h.cl_ord_id
    where h.rec_date = $trade_date and h.base_kind = 'in_rsp' and h.msg_type = 3
      and h.exec_type = 'F' and q.cl_ord_id is null
)

select coalesce(check_key, '(null)') as check_key, problem
from problems
order by check_key, problem
