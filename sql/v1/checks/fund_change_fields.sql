-- fund_change_fields: every fund change carries the balance before, the change, the balance
-- after and a reason.
-- severity: error
-- threshold: 0
-- Reads: fund.ledger. Design: 000 section 4 (every fund change has before, after and reason).
select
    cast(id as varchar) as check_key,
    account_num,
    change_type,
    concat_ws(', ',
        case when before_balance is null then 'before_balance' end,
        case when delta is null then 'delta' end,
        case when after_balance is null then 'after_balance' end,
        case when reason is null or trim(reason) = '' then 'reason' end
    ) || ' missing' as problem
from fund.ledger
where trade_date = $trade_date
  and (before_balance is null or delta is null or after_balance is null
       or reason is null or trim(reason) = '')
order by id
