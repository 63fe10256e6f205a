-- anomalies: fills carry their key fields and positive quantities and prices.
-- severity: error
-- threshold: 0
-- Reads: lifecycle. Design: 002 section 11.9 (null key fields, non-positive values).
-- (Quantity x price against the booked amount is trade_replay.)
with fills as (
    select * from lifecycle
    where trade_date = $trade_date and msg_type = 3 and exec_type = 'F'
),

problems as (
    select gateway || ':' || cast(src_id as varchar) as check_key, 'fill without ExecID' as problem
    from fills where exec_id is null
    union all
    select gateway || ':' || cast(src_id as varchar), 'fill without ClOrdID'
    from fills where cl_ord_id is null
    union all
    select gateway || ':' || cast(src_id as varchar), 'fill quantity is missing or not positive'
    from fills where last_qty is null or last_qty <= 0
    union all
    select gateway || ':' || cast(src_id as varchar), 'fill price is missing or not positive'
    from fills where last_px is null or last_px <= 0
)

select check_key, problem
from problems
order by check_key, problem
