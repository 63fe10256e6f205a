-- reported_orders: an order that reached the street (sent to an upstream, or executed there) is
-- reported: its client's new order is a reportable record, today or the day before. A
-- malformed client message must not turn such an order invalid and take its NEW, ROUTE and
-- FILL events out of CAT and OATS without a word.
-- severity: error
-- threshold: 0
-- Reads: lifecycle. Design: 002 section 11.1 (completeness of what is reported).
with street as (
    select
        order_id,
        min(case when direction = 'send' then out_cl_ord_id end) as first_route,
        bool_or(direction = 'recv' and exec_type = 'F') as executed
    from lifecycle
    where trade_date = $trade_date and gateway = 'outbound' and order_id is not null
    group by order_id
),

reported as (
    select distinct order_id
    from lifecycle
    where trade_date >= $trade_date - interval '1 day' and trade_date <= $trade_date
      and base_kind = 'in_new_req' and reportable
)

select
    s.order_id as check_key,
    case when s.executed then 'executed upstream' else 'routed upstream' end
        || coalesce(' (' || s.first_route || ')', '')
        || ' but its client order is not reportable: no NEW, ROUTE or FILL event reaches the reports'
        as problem
from street s
left join reported r on r.order_id = s.order_id
where r.order_id is null
order by check_key
