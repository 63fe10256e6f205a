-- fund_pool_balance: money moved between accounts balances within each currency's pool:
-- the legs of every transfer sum to zero.
-- severity: error
-- threshold: 0
-- Reads: fund.ledger. Design: 000 section 4 (each currency's pool: inflows and outflows
-- balance).
select
    coalesce(ref_id, '(null)') as check_key,
    currency,
    count(*) as legs,
    sum(delta) as net
from fund.ledger
where trade_date = $trade_date and change_type = 'TRANSFER'
group by ref_id, currency
having sum(delta) <> 0 or ref_id is null
order by check_key, currency
