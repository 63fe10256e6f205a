-- fund_running_balance: each account and currency's balance reproduces from its changes:
-- every change starts from the balance the previous change ended at (the first change of an
-- account starts from 0, or from yesterday's last balance).
-- severity: error
-- threshold: 0
-- Reads: fund.ledger (this and the previous trade date).
-- Design: 000 section 4 (reconcile one account, one currency).
with changes as (
    select
        *,
        lag(after_balance) over (
            partition by account_num, currency order by create_time, id
        ) as previous_after
    from fund.ledger
    where trade_date >= $trade_date - interval '1 day' and trade_date <= $trade_date
)

select
    cast(id as varchar) as check_key,
    account_num,
    currency,
    before_balance,
    coalesce(previous_after, 0) as expected_before
from changes
where trade_date = $trade_date
  and before_balance <> coalesce(previous_after, 0)
order by id
