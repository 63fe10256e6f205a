-- fund_negative_balance: no account's balance goes below zero.
-- severity: error
-- threshold: 0
-- Reads: fund.ledger. Design: 000 section 1 (negative assets).
select
    cast(id as varchar) as check_key,
    account_num,
    currency,
    change_type,
    after_balance
from fund.ledger
where trade_date = $trade_date
  and after_balance < 0
order by id
