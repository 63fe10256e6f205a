-- kline_bars: OHLCV bars per symbol from street executions (fills received from upstreams),
-- for intervals 1m, 5m, 15m, 30m, 1h, 4h, 1d (UTC) and, as of the trade date, 1w and 1M.
-- Grain: one row per (interval, symbol, bar_start).
-- Reads: lifecycle (since the start of the trade date's month, for the 1w and 1M bars).
-- Design: 000 (K-line intervals 1m ... 1M); exact decimals, no floats.
with executions as (
    select
        trade_date as exec_date,
        symbol,
        create_time,
        gateway,
        src_id,
        last_px as px,
        last_qty as qty
    from lifecycle
    where trade_date >= date_trunc('month', $trade_date) and trade_date <= $trade_date
      and gateway = 'outbound' and direction = 'recv' and msg_type = 3 and exec_type = 'F'
      and last_qty > 0
),

intervals as (
    select column1 as bar_interval, column2 as seconds, column3 as intraday
    from (values
        ('1m', 60, true), ('5m', 300, true), ('15m', 900, true), ('30m', 1800, true),
        ('1h', 3600, true), ('4h', 14400, true), ('1d', 86400, true),
        ('1w', 0, false), ('1M', 0, false)
    )
),

binned as (
    select
        i.bar_interval,
        e.symbol,
        case
            when i.bar_interval = '1w' then date_trunc('week', e.create_time)
            when i.bar_interval = '1M' then date_trunc('month', e.create_time)
            -- fixed-width bars, aligned to the Unix epoch, in integer microseconds
            else arrow_cast(
                arrow_cast(e.create_time, 'Int64') / (i.seconds * 1000000) * (i.seconds * 1000000),
                'Timestamp(µs, "UTC")'
            )
        end as bar_start,
        e.create_time,
        e.src_id,
        e.px,
        e.qty
    from executions e
    cross join intervals i
    where not i.intraday or e.exec_date = $trade_date
),

final as (
    select
        bar_interval,
        symbol,
        bar_start,
        first_value(px order by create_time, src_id) as open,
        max(px) as high,
        min(px) as low,
        last_value(px order by create_time, src_id) as close,
        cast(sum(qty) as decimal(20, 6)) as volume,
        cast(sum(qty * px) as decimal(28, 6)) as notional,
        count(*) as trades
    from binned
    group by bar_interval, symbol, bar_start
)

select * from final
order by bar_interval, symbol, bar_start
