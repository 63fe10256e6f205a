-- trade_replay: replaying the fills reported to clients gives the trades booked in the fund
-- ledger: one TRADE entry per fill, for LastQty x LastPx, paid on a buy, received on a sell.
-- severity: error
-- threshold: 0
-- Reads: lifecycle, fund.ledger. Design: 000 section 4 (replay trades from the order data and
-- compare with the trade records) and 002 section 11.9 (quantity x price = amount).
with fills as (
    select
        account_num,
        exec_id,
        side,
        last_qty * last_px as amount
    from lifecycle
    where trade_date = $trade_date and base_kind = 'in_rsp' and msg_type = 3 and exec_type = 'F'
),

booked as (
    select account_num, ref_id, delta
    from fund.ledger
    where trade_date = $trade_date and change_type = 'TRADE'
),

problems as (
    select f.exec_id as check_key, 'fill has no TRADE entry in the ledger' as problem
    from fills f
    left join booked b on b.account_num = f.account_num and b.ref_id = f.exec_id
    where b.ref_id is null
    union all
    select f.exec_id, 'booked ' || cast(b.delta as varchar) || ' but the fill is '
           || case when f.side = 'B' then '-' else '' end || cast(f.amount as varchar)
    from fills f
    join booked b on b.account_num = f.account_num and b.ref_id = f.exec_id
    where b.delta <> case when f.side = 'B' then -f.amount else f.amount end
    union all
    select b.ref_id, 'TRADE entry without a fill'
    from booked b
    left join fills f on f.account_num = b.account_num and f.exec_id = b.ref_id
    where f.exec_id is null
)

select coalesce(check_key, '(null)') as check_key, problem
from problems
order by check_key, problem
