-- source_order_validity: every upstream message answers an order the firm sent, and no fill
-- comes after the order was canceled or completed.
-- severity: error
-- threshold: 0
-- Reads: lifecycle (this and the previous trade date, for orders sent yesterday).
-- Design: 002 section 11.3 (SOURCE_ORDER_ID exists; no new fills on canceled or completed
-- orders).
-- Buckets: an upstream message is compared with the orders sent under its ClOrdID, a client
-- order's reports with its chain: the runner may run it once per bucket of that key
-- (`flow_key`: the ClOrdID upstream, the chain towards the client) to bound its joins' memory.
with history as (
    select * exclude (trade_date, bucket), trade_date as rec_date
    from lifecycle
    where trade_date >= $trade_date - interval '1 day' and trade_date <= $trade_date
      and bucket(case when gateway = 'outbound' then cl_ord_id else chain_id end, $buckets) = $bucket
),

sent as (
    select distinct cl_ord_id
    from history
    where gateway = 'outbound' and direction = 'send' and cl_ord_id is not null
),

reports as (
    select
        *,
        case when gateway = 'outbound' then cl_ord_id else chain_id end as flow_key
    from history
    where msg_type = 3 and direction = case when gateway = 'outbound' then 'recv' else 'send' end
),

closed as (
    select flow_key, min(create_time) as closed_at
    from reports
    where exec_type = '4' or ord_status = '2'
    group by flow_key
),

problems as (
    select h.cl_ord_id as check_key, 'upstream message for an order never sent upstream' as problem,
           h.gateway, h.src_id
    from history h
    left join sent s on s.cl_ord_id = h.cl_ord_id
    where h.rec_date = $trade_date and h.gateway = 'outbound' and h.direction = 'recv'
      and h.cl_ord_id is not null and s.cl_ord_id is null
    union all
    select r.flow_key, 'fill after the order was canceled or completed', r.gateway, r.src_id
    from reports r
    join closed c on c.flow_key = r.flow_key
    where r.rec_date = $trade_date and r.exec_type = 'F' and r.create_time > c.closed_at
)

select check_key, problem, gateway, src_id
from problems
order by check_key, gateway, src_id
