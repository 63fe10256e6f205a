-- duplicates: no execution id, order id, client order id or report key is used twice.
-- severity: error
-- threshold: 0
-- Reads: lifecycle, oms.orders, cat_order_events. Design: 002 section 11.8 (duplicate
-- orders and trades) and CAT's duplicate-key errors (firmROEID, order key).
with reports as (
    select * from lifecycle
    where trade_date = $trade_date and msg_type = 3 and exec_id is not null
),

problems as (
    select exec_id as check_key, 'ExecID used by ' || cast(count(*) as varchar) || ' execution reports (' || gateway || ')' as problem
    from reports
    group by exec_id, gateway, direction
    having count(*) > 1
    union all
    select order_id, 'order id on ' || cast(count(*) as varchar) || ' OMS orders'
    from oms.orders
    where trade_date = $trade_date
    group by order_id
    having count(*) > 1
    union all
    select cl_ord_id, 'ClOrdID used by ' || cast(count(*) as varchar) || ' new orders of session ' || sid_in
    from lifecycle
    where trade_date = $trade_date and record_kind = 'in_new_req' and cl_ord_id is not null
    group by cl_ord_id, sid_in
    having count(*) > 1
    union all
    select "firmROEID", 'firmROEID used ' || cast(count(*) as varchar) || ' times for ' || _destination
    from cat_order_events
    where trade_date = $trade_date
    group by "firmROEID", _destination
    having count(*) > 1
    union all
    select "orderID", 'CAT order key (orderKeyDate, orderID) used by ' || cast(count(*) as varchar) || ' new orders'
    from cat_order_events
    where trade_date = $trade_date and "type" = 'MENO'
    group by "orderKeyDate", "orderID", _destination
    having count(*) > 1
)

select check_key, problem
from problems
order by check_key, problem
