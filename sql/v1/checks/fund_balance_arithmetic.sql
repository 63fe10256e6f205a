-- fund_balance_arithmetic: before + delta = after, exactly (decimals, never floats).
-- severity: error
-- threshold: 0
-- Reads: fund.ledger. Design: 000 section 1 (float money: 0.02 - 0.1 * 0.2 is not 0).
select
    cast(id as varchar) as check_key,
    account_num,
    before_balance,
    delta,
    after_balance,
    before_balance + delta - after_balance as difference
from fund.ledger
where trade_date = $trade_date
  and before_balance + delta <> after_balance
order by id
