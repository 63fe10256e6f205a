-- overfill: no order is filled beyond its quantity; CumQty is the running sum of LastQty;
-- LeavesQty never exceeds the order quantity.
-- severity: error
-- threshold: 0
-- Reads: lifecycle. Design: 002 section 11.4 (overfill GROUP BY), plus the CumQty and
-- LeavesQty rules of FIX execution reports.
with client_reports as (
    select * from lifecycle
    where trade_date = $trade_date and base_kind = 'in_rsp' and msg_type = 3
),

-- fills to the client, per order and (for multi-leg orders) per leg symbol
fills as (
    select
        chain_id,
        exec_id,
        qty,
        cum_qty,
        sum(last_qty) over (
            partition by chain_id, symbol order by create_time, src_id
            rows between unbounded preceding and current row
        ) as filled_so_far
    from client_reports
    where exec_type = 'F'
),

all_reports as (
    select * from lifecycle
    where trade_date = $trade_date and msg_type = 3
),

problems as (
    select chain_id as check_key, 'filled beyond the order quantity' as problem
    from fills
    where filled_so_far > qty
    group by chain_id
    union all
    select exec_id, 'CumQty ' || cast(cum_qty as varchar) || ' is not the sum of fills ' || cast(filled_so_far as varchar)
    from fills
    where cum_qty <> filled_so_far
    union all
    select exec_id, 'LeavesQty ' || cast(leaves_qty as varchar) || ' exceeds the order quantity ' || cast(qty as varchar)
    from all_reports
    where leaves_qty > qty
)

select coalesce(check_key, '(null)') as check_key, problem
from problems
order by check_key, problem
