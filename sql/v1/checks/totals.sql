-- totals: the day's order count, trade count, shares and turnover agree between the daily
-- summary, the lifecycle records, and the external reconciliation file when one is given
-- (`ordertrail check --recon FILE`, a CSV of metric,value).
-- severity: error
-- threshold: 0
-- Reads: daily_summary, lifecycle, recon.totals. Design: 002 section 11.5 (totals against the
-- external reconciliation system).
with summary as (
    select orders, fills, shares, notional
    from daily_summary
    where trade_date = $trade_date and level = 'firm'
),

fills as (
    select * from lifecycle
    where trade_date = $trade_date and base_kind = 'in_rsp' and msg_type = 3 and exec_type = 'F'
),

recomputed as (
    select
        (select count(*) from lifecycle where trade_date = $trade_date and record_kind = 'in_new_req') as orders,
        (select count(*) from fills) as fills,
        (select coalesce(sum(last_qty), 0) from fills) as shares,
        (select coalesce(sum(last_qty * last_px), 0) from fills) as notional
),

ours as (
    select 'orders' as metric, cast(s.orders as decimal(28, 6)) as summary_value, cast(r.orders as decimal(28, 6)) as recomputed_value
    from summary s cross join recomputed r
    union all
    select 'trades', cast(s.fills as decimal(28, 6)), cast(r.fills as decimal(28, 6)) from summary s cross join recomputed r
    union all
    select 'shares', cast(s.shares as decimal(28, 6)), cast(r.shares as decimal(28, 6)) from summary s cross join recomputed r
    union all
    select 'turnover', cast(s.notional as decimal(28, 6)), cast(r.notional as decimal(28, 6)) from summary s cross join recomputed r
),

problems as (
    select metric as check_key, 'daily summary ' || cast(summary_value as varchar)
           || ' differs from the records ' || cast(recomputed_value as varchar) as problem
    from ours
    where summary_value <> recomputed_value
    union all
    select t.metric, 'reconciliation file says ' || cast(t.value as varchar) || ', we have '
           || coalesce(cast(o.summary_value as varchar), 'nothing')
    from recon.totals t
    left join ours o on o.metric = t.metric
    where o.summary_value is null or o.summary_value <> t.value
)

select check_key, problem
from problems
order by check_key, problem
