-- bounce_limit: a client request sent upstream more than 3 times (reroutes bouncing between
-- venues and services) is flagged. Edit the limit below.
-- severity: warn
-- threshold: 0
-- Reads: lifecycle. Design: 000 section 1 (messages bouncing between queues until RabbitMQ
-- fell over: count the hops of one order and limit them).
with upstream_requests as (
    select chain_id, req_key, count(*) as sent
    from lifecycle
    where trade_date = $trade_date and gateway = 'outbound' and direction = 'send'
      and msg_type in (0, 1)
    group by chain_id, req_key
)

select
    chain_id as check_key,
    req_key,
    sent
from upstream_requests
where sent > 3
order by check_key, req_key
