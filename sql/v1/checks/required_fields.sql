-- required_fields: reportable client requests carry the fields reports need, well-formed ids
-- and timestamps, and positive quantities and prices.
-- severity: error
-- threshold: 0
-- Reads: lifecycle. Design: 002 section 11.1 (field completeness and format).
with requests as (
    select * from lifecycle
    where trade_date = $trade_date and base_kind in ('in_new_req', 'in_req') and reportable
),

problems as (
    select cl_ord_id as check_key, 'ClOrdID is missing or not [A-Za-z0-9._-]{1,64}' as problem
    from requests where cl_ord_id is null or not regexp_like(cl_ord_id, '^[A-Za-z0-9._-]{1,64}$')
    union all
    select cl_ord_id, 'order id is missing' from requests where order_id is null
    union all
    select cl_ord_id, 'account is missing' from requests where account_num is null
    union all
    select cl_ord_id, 'symbol is missing' from requests where order_symbol is null
    union all
    select cl_ord_id, 'side is missing or unknown' from requests where order_side is null
    union all
    select cl_ord_id, 'order type is missing or unknown' from requests where ord_type is null
    union all
    select cl_ord_id, 'quantity is missing or not positive' from requests where qty is null or qty <= 0
    union all
    select cl_ord_id, 'limit price is missing or not positive'
    from requests where msg_type in (0, 1) and ord_type = 'LMT' and (price is null or price <= 0)
    union all
    select cl_ord_id, 'timestamp is not on the trade date'
    from requests where create_time is null or cast(create_time as date) <> $trade_date
)

select coalesce(check_key, '(null)') as check_key, problem
from problems
order by check_key, problem
