-- tick_lot_size: order prices are on the symbol's tick size and quantities on its lot size
-- (any positive quantity where fractional shares are allowed); every symbol is known.
-- severity: error
-- threshold: 0
-- Reads: lifecycle, refdata.symbol. Design: 000 section 4 (order precision).
with requests as (
    select * from lifecycle
    where trade_date = $trade_date and base_kind in ('in_new_req', 'in_req')
      and msg_type in (0, 1) and order_id is not null
),

symbols as (
    select symbol, tick_size, lot_size, fractional_allowed
    from refdata.symbol
    where trade_date = $trade_date
),

problems as (
    select r.cl_ord_id as check_key, 'unknown symbol ' || r.order_symbol as problem
    from requests r
    left join symbols s on s.symbol = r.order_symbol
    where s.symbol is null
    union all
    select r.cl_ord_id, 'price ' || cast(r.price as varchar) || ' is not a multiple of the tick ' || cast(s.tick_size as varchar)
    from requests r
    join symbols s on s.symbol = r.order_symbol
    where r.price is not null and r.price % s.tick_size <> 0
    union all
    select r.cl_ord_id, 'quantity ' || cast(r.qty as varchar) || ' is not a multiple of the lot ' || cast(s.lot_size as varchar)
    from requests r
    join symbols s on s.symbol = r.order_symbol
    where r.qty is not null and s.fractional_allowed = 0 and r.qty % s.lot_size <> 0
)

select coalesce(check_key, '(null)') as check_key, problem
from problems
order by check_key, problem
