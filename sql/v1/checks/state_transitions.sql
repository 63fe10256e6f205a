-- state_transitions: an order's status never moves backwards (FILLED then PARTIAL), and every
-- day order ends the day done or in a carried-over state.
-- severity: error
-- threshold: 0
-- Reads: lifecycle. Design: 002 section 11.7 (no backward transitions; every order reaches a
-- terminal state) and 7.3 (statuses 1, 2 and 7 carry over to later windows).
with client_reports as (
    select * from lifecycle
    where trade_date = $trade_date and base_kind = 'in_rsp' and msg_type = 3
),

ranked as (
    select
        chain_id,
        exec_id,
        ord_status,
        case ord_status
            when 'A' then 0 when '0' then 1 when 'E' then 1 when '6' then 1
            when '1' then 2
            when '2' then 3 when '4' then 3 when '8' then 3 when 'C' then 3
        end as status_rank,
        create_time,
        src_id
    from client_reports
),

progressed as (
    select
        *,
        max(status_rank) over (
            partition by chain_id order by create_time, src_id
            rows between unbounded preceding and 1 preceding
        ) as highest_before
    from ranked
),

orders as (
    select * from lifecycle
    where trade_date = $trade_date and record_kind = 'in_new_req'
),

problems as (
    select chain_id as check_key, 'status ' || ord_status || ' after a later status (report ' || coalesce(exec_id, '?') || ')' as problem
    from progressed
    where status_rank < highest_before
    union all
    -- a NORMAL day order still open at the end of its day lost its end somewhere
    select chain_id, 'day order neither done nor in a carried-over status at the end of the day'
    from orders
    where open_at_end and tif = 'DAY' and status_name = 'NORMAL'
)

select check_key, problem
from problems
order by check_key, problem
