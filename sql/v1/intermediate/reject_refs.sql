-- reject_refs: the message each session-level reject (35=3) rejects. A session reject names
-- the rejected message by its sequence number (45) on the same session, sent in the other
-- direction; it carries no ClOrdID of its own, so flow_complete completes it from this one.
-- Grain: one row per session reject of the trade date whose referenced message is in the
-- day's flow (a reject naming no message of the day has no row).
-- Reads: flow.
-- Design: 002 section 6 (single-message completion: a reject belongs to the order of the
-- message it rejects).
-- Window: the rejects created in [$window_start, $window_end), matched against the day's
-- messages created before $window_end.
-- unique_key: gateway, src_id
-- event_time: create_time
-- join_order: as_written
--
-- A stage of its own rather than a CTE of flow_complete: flow_complete runs in buckets, and
-- this self-join reads the whole day's flow twice, in every bucket as a CTE (at 10M orders
-- in 16 buckets, 32 scans of 69M messages); as a stage, once per window.
-- When a sequence number was reused on a session (a reset), the lowest src_id and ClOrdID
-- among the messages it names are kept.
with flow_today as (
    select * exclude (trade_date, bucket) from flow
    where trade_date = $trade_date and create_time < $window_end
),

rejects as (
    select gateway, src_id, create_time, sid, direction, ref_seq_num
    from flow_today
    where fix_msg_type = '3' and create_time >= $window_start
)

select
    r.gateway,
    r.src_id,
    r.create_time,
    min(m.src_id) as ref_src_id,
    min(m.cl_ord_id) as ref_cl_ord_id
from rejects r
join flow_today m
  on m.gateway = r.gateway
 and m.sid = r.sid
 and m.direction <> r.direction
 and m.msg_seq_num = r.ref_seq_num
group by r.gateway, r.src_id, r.create_time
order by gateway, src_id
