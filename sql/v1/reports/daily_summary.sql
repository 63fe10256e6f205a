-- daily_summary: the day's trading per symbol and account, per symbol, and for the firm.
-- Grain: one row per (level, symbol, account_num); level is 'account' (symbol and account),
-- 'symbol' (all accounts) or 'firm' (everything; symbol and account NULL).
-- Reads: lifecycle.
-- Design: 002 section 1 (daily trading summary) and 11.5 (totals: turnover, shares, trade
-- count, order count).
-- orders: client new orders received; fills: fills reported to clients; shares and notional
-- from those fills (exact decimals); cancels: cancels confirmed; rejects: client requests
-- rejected by inbound, risk management or the upstream.
with records as (
    select * exclude (trade_date, bucket) from lifecycle where trade_date = $trade_date
),

facts as (
    select
        order_symbol as symbol,
        account_num,
        case when record_kind = 'in_new_req' then 1 else 0 end as is_order,
        case when base_kind = 'in_rsp' and msg_type = 3 and exec_type = 'F' then 1 else 0 end as is_fill,
        case when base_kind = 'in_rsp' and msg_type = 3 and exec_type = 'F' then last_qty end as fill_qty,
        case when base_kind = 'in_rsp' and msg_type = 3 and exec_type = 'F' then last_qty * last_px end as fill_notional,
        case when base_kind = 'in_rsp' and msg_type = 3 and exec_type = '4' then 1 else 0 end as is_cancel,
        case when base_kind in ('in_new_req', 'in_req') and status_name in ('REJ_BY_UPSTREAM', 'INVALID_REQ', 'REJ_BY_RMS') then 1 else 0 end as is_reject
    from records
),

by_account as (
    select 'account' as level, symbol, account_num,
           sum(is_order) as orders, sum(is_fill) as fills,
           coalesce(sum(fill_qty), 0) as shares, coalesce(sum(fill_notional), 0) as notional,
           sum(is_cancel) as cancels, sum(is_reject) as rejects
    from facts
    group by symbol, account_num
),

by_symbol as (
    select 'symbol' as level, symbol, cast(null as varchar) as account_num,
           sum(is_order) as orders, sum(is_fill) as fills,
           coalesce(sum(fill_qty), 0) as shares, coalesce(sum(fill_notional), 0) as notional,
           sum(is_cancel) as cancels, sum(is_reject) as rejects
    from facts
    group by symbol
),

firm as (
    select 'firm' as level, cast(null as varchar) as symbol, cast(null as varchar) as account_num,
           sum(is_order) as orders, sum(is_fill) as fills,
           coalesce(sum(fill_qty), 0) as shares, coalesce(sum(fill_notional), 0) as notional,
           sum(is_cancel) as cancels, sum(is_reject) as rejects
    from facts
),

final as (
    select * from by_account
    union all
    select * from by_symbol
    union all
    select * from firm
)

select
    level,
    symbol,
    account_num,
    orders,
    fills,
    cast(shares as decimal(20, 6)) as shares,
    cast(notional as decimal(28, 6)) as notional,
    cancels,
    rejects
from final
order by case level when 'account' then 0 when 'symbol' then 1 else 2 end, symbol, account_num
