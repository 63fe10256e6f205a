-- sequencing: the messages of an order come in a possible order: a response after its
-- request, a fill after the order was acknowledged, a reject or cancel after the new order,
-- a trade correction after its trade.
-- severity: error
-- threshold: 0
-- Reads: lifecycle (this and the previous trade date: an order acknowledged yesterday may fill
-- today). Design: 002 section 11.2 (O.RO after O.NO, T after O.RO, A.RJ and A.C
-- after O.NO, M after T).
-- Buckets: every comparison is within one chain, so it runs once per chain bucket, reading that
-- bucket of lifecycle only.
with records as (
    select * exclude (trade_date, bucket), trade_date as rec_date
    from lifecycle
    where trade_date >= $trade_date - interval '1 day' and trade_date <= $trade_date
      and bucket = $bucket
),

-- execution reports of each order, from upstream and towards the client; a flow is
-- (gateway, chain_id), joined on the pair rather than on one concatenated key so that no
-- extra string sits in the join's build side (at 1M orders 570-590 MiB instead of 690)
reports as (
    select *
    from records
    where msg_type = 3 and direction = case when gateway = 'outbound' then 'recv' else 'send' end
),

first_ack as (
    select gateway, chain_id, min(create_time) as acked_at
    from reports
    where exec_type in ('0', '5')
    group by gateway, chain_id
),

first_trade as (
    select gateway, chain_id, min(create_time) as traded_at
    from reports
    where exec_type = 'F'
    group by gateway, chain_id
),

problems as (
    select r.chain_id as check_key, 'response before its request' as problem, r.gateway, r.src_id
    from records r
    where r.rec_date = $trade_date and r.base_kind = 'in_rsp' and r.recv_time is not null and r.create_time < r.recv_time
    union all
    select r.chain_id, 'fill before the acknowledgement (' || r.gateway || ' ' || r.chain_id || ')', r.gateway, r.src_id
    from reports r
    left join first_ack a on a.gateway = r.gateway and a.chain_id = r.chain_id
    where r.rec_date = $trade_date and r.exec_type = 'F' and (a.acked_at is null or r.create_time < a.acked_at)
    union all
    select r.chain_id, 'reject or cancel before the new order', r.gateway, r.src_id
    from reports r
    where r.rec_date = $trade_date and r.exec_type in ('4', '8') and r.order_recv_time is not null and r.create_time < r.order_recv_time
    union all
    select r.chain_id, 'trade correction before any trade (' || r.gateway || ' ' || r.chain_id || ')', r.gateway, r.src_id
    from reports r
    left join first_trade t on t.gateway = r.gateway and t.chain_id = r.chain_id
    where r.rec_date = $trade_date and r.exec_type in ('G', 'H') and (t.traded_at is null or r.create_time < t.traded_at)
)

select check_key, problem, gateway, src_id
from problems
order by check_key, gateway, src_id
