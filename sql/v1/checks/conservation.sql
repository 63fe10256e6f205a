-- conservation: every raw FIX message of the day is accounted for exactly once, in the
-- lifecycle or in flow_quarantine (with its reason); every OMS order, route and risk decision
-- reaches the lifecycle.
-- severity: error
-- threshold: 0
-- Reads: inbound.fix_msg, outbound.fix_msg, lifecycle, flow_quarantine, oms.orders,
-- ems.route, oms.rms_event. Design: nothing is lost silently.
-- Buckets: each comparison is of one key (a message's id, an order id, a ClOrdID), so the
-- runner may run it once per bucket of its key (see `bucket`) to bound its joins' memory.
with raw_messages as (
    select 'inbound' as gateway, id as src_id from inbound.fix_msg
    where trade_date = $trade_date and bucket(id, $buckets) = $bucket
    union all
    select 'outbound', id from outbound.fix_msg
    where trade_date = $trade_date and bucket(id, $buckets) = $bucket
),

landed as (
    select gateway, src_id from lifecycle
    where trade_date = $trade_date and bucket(src_id, $buckets) = $bucket
    union all
    select gateway, src_id from flow_quarantine
    where trade_date = $trade_date and bucket(src_id, $buckets) = $bucket
),

landed_counts as (
    select gateway, src_id, count(*) as times
    from landed
    group by gateway, src_id
),

message_problems as (
    select
        coalesce(r.gateway, l.gateway) || ':' || cast(coalesce(r.src_id, l.src_id) as varchar) as check_key,
        case
            when l.times is null then 'raw message in no output'
            when r.src_id is null then 'output row with no raw message'
            else 'raw message in the outputs ' || cast(l.times as varchar) || ' times'
        end as problem
    from raw_messages r
    full outer join landed_counts l on l.gateway = r.gateway and l.src_id = r.src_id
    where l.times is null or r.src_id is null or l.times <> 1
),

orders_seen as (
    select distinct order_id from lifecycle
    where trade_date = $trade_date and order_id is not null and bucket(order_id, $buckets) = $bucket
),

routes_seen as (
    select distinct out_cl_ord_id from lifecycle
    where trade_date = $trade_date and out_cl_ord_id is not null
      and bucket(out_cl_ord_id, $buckets) = $bucket
),

requests_seen as (
    select distinct cl_ord_id from lifecycle
    where trade_date = $trade_date and base_kind in ('in_new_req', 'in_req')
      and bucket(cl_ord_id, $buckets) = $bucket
),

other_problems as (
    select 'oms.orders:' || cast(o.id as varchar), 'order ' || o.order_id || ' has no lifecycle record'
    from oms.orders o left join orders_seen s on s.order_id = o.order_id
    where o.trade_date = $trade_date and s.order_id is null and bucket(o.order_id, $buckets) = $bucket
    union all
    select 'ems.route:' || cast(r.id as varchar), 'route ' || r.route_id || ' has no lifecycle record'
    from ems.route r left join routes_seen s on s.out_cl_ord_id = r.out_cl_ord_id
    where r.trade_date = $trade_date and s.out_cl_ord_id is null
      and bucket(r.out_cl_ord_id, $buckets) = $bucket
    union all
    select 'oms.rms_event:' || cast(e.id as varchar), 'risk decision on ' || e.cl_ord_id || ' has no lifecycle record'
    from oms.rms_event e left join requests_seen s on s.cl_ord_id = e.cl_ord_id
    where e.trade_date = $trade_date and s.cl_ord_id is null
      and bucket(e.cl_ord_id, $buckets) = $bucket
)

select check_key, problem from message_problems
union all
select * from other_problems
order by check_key, problem
