-- lifecycle: the event_status of every record and whether it is reportable.
-- Grain: one row per business_fill row of the trade date.
-- Reads: business_fill (this and the previous trade date, so a request made yesterday is
-- judged with everything since), oms.rms_event, event_status.
-- Design: 002 section 7.3 (event status and state machine).
--
-- A record carries the status of the client request it belongs to (req_key), decided in this
-- order of precedence:
--   4 INVALID_REQ                request malformed, never accepted by the OMS, or rejected by
--                                the inbound gateway at session level
--   5 EVENT_STATUS_ENDED         request made after the order's lifecycle ended
--   6 REJ_BY_RMS                 risk management's last decision was REJECT
--   7 HOLD_BY_RMS                risk management's last decision was HOLD
--   1 OUTBOUND_NOT_SEND_FIX_REQ  no request went upstream
--   2 OUTBOUND_NOT_RECV_FIX_RSP  a live upstream request has no response
--   3 REJ_BY_UPSTREAM            every live upstream request was rejected
--   0 NORMAL                     otherwise
-- A route that was rerouted is not live: the reroute's outcome counts instead.
-- Any record after the lifecycle ended is 5.
--
-- Window: the chains active in the window (chain_activity), each recomputed from all its
-- input up to $window_end; their earlier records are emitted again with what is now known.
-- unique_key: gateway, src_id
-- event_time: create_time
-- join_order: as_written
--
-- bucket_by: chain_id
-- Buckets: one run per chain bucket; a run reads its bucket of chains and records (by
-- partition).
with -- The chains with input in this window (all of the day's, for a whole-day run).
active_chains as (
    select chain_id from chain_activity
    where trade_date = $trade_date and last_activity >= $window_start
      and bucket = $bucket
),

records as (
    select b.* exclude (trade_date, bucket), b.trade_date as rec_date
    from active_chains a
    join business_fill b on b.chain_id = a.chain_id
    where b.trade_date >= $trade_date - interval '1 day' and b.trade_date <= $trade_date
      and b.create_time < $window_end
      -- implied by the join; said here so the scan of business_fill reads the bucket only
      and b.bucket = $bucket
),

statuses as (
    select event_status, status_name, reportable
    from event_status
    where trade_date = $trade_date
),

-- Risk management's decisions on this bucket's requests: oms.rms_event is not split by chain,
-- so its rows are matched to the requests first (the small side first: a hash join holds its
-- first side in memory) and only those are aggregated.
rms_decisions as (
    select
        e.cl_ord_id,
        last_value(e.action order by e.create_time, e.id) as rms_action
    from (
        select distinct req_cl_ord_id from records
        where base_kind in ('in_new_req', 'in_req')
    ) k
    join oms.rms_event e on e.cl_ord_id = k.req_cl_ord_id
    where e.trade_date >= $trade_date - interval '1 day' and e.trade_date <= $trade_date
      and e.create_time < $window_end
    group by e.cl_ord_id
),

requests as (
    select
        req_key,
        first_value(req_cl_ord_id order by create_time, src_id) as req_cl_ord_id,
        max(case when parse_error is not null then 1 else 0 end) as malformed,
        max(case when order_id is null then 1 else 0 end) as not_accepted,
        max(case when record_kind = 'ended_record' then 1 else 0 end) as after_end
    from records
    where base_kind in ('in_new_req', 'in_req')
    group by req_key
),

inbound_rejects as (
    select req_key, count(*) as session_rejects
    from records
    where base_kind = 'in_rsp' and msg_type = 5
    group by req_key
),

upstream_requests as (
    select req_key, out_cl_ord_id, min(route_id) as route_id
    from records
    where gateway = 'outbound' and direction = 'send'
    group by req_key, out_cl_ord_id
),

upstream_responses as (
    select
        out_cl_ord_id,
        first_value(base_kind order by create_time, src_id) as first_response_kind
    from records
    where gateway = 'outbound' and direction = 'recv' and out_cl_ord_id is not null
    group by out_cl_ord_id
),

rerouted as (
    select distinct parent_route_id as route_id
    from records
    where parent_route_id is not null
),

live_routes as (
    select
        q.req_key,
        case
            when p.first_response_kind is null then 'no_response'
            when p.first_response_kind in ('out_new_rej_er', 'out_cxl_rej', 'out_rej') then 'rejected'
            else 'answered'
        end as outcome
    from upstream_requests q
    left join upstream_responses p on p.out_cl_ord_id = q.out_cl_ord_id
    left join rerouted x on x.route_id = q.route_id
    where x.route_id is null
),

request_routes as (
    select
        req_key,
        count(*) as live_routes,
        sum(case when outcome = 'no_response' then 1 else 0 end) as unanswered,
        sum(case when outcome = 'rejected' then 1 else 0 end) as rejected
    from live_routes
    group by req_key
),

request_status as (
    select
        r.req_key,
        d.rms_action,
        coalesce(rr.live_routes, 0) as live_routes,
        case
            when r.malformed = 1 or r.not_accepted = 1 or coalesce(ir.session_rejects, 0) > 0
                then 'INVALID_REQ'
            when r.after_end = 1 then 'EVENT_STATUS_ENDED'
            when d.rms_action = 'REJECT' then 'REJ_BY_RMS'
            when d.rms_action = 'HOLD' then 'HOLD_BY_RMS'
            when coalesce(rr.live_routes, 0) = 0 then 'OUTBOUND_NOT_SEND_FIX_REQ'
            when rr.unanswered > 0 then 'OUTBOUND_NOT_RECV_FIX_RSP'
            when rr.rejected = rr.live_routes then 'REJ_BY_UPSTREAM'
            else 'NORMAL'
        end as req_status_name
    from requests r
    left join rms_decisions d on d.cl_ord_id = r.req_cl_ord_id
    left join inbound_rejects ir on ir.req_key = r.req_key
    left join request_routes rr on rr.req_key = r.req_key
),

final as (
    select
        rec.* exclude (rec_date),
        rs.rms_action,
        rs.live_routes,
        rs.req_status_name,
        case
            when rec.record_kind = 'ended_record' then 'EVENT_STATUS_ENDED'
            else coalesce(rs.req_status_name, 'NORMAL')
        end as status_name
    from request_status rs
    right join records rec on rs.req_key = rec.req_key
    where rec.rec_date = $trade_date
),

-- The names decided above, with their codes and reportable flag from event_status.
named as (
    select
        f.* exclude (status_name),
        s.event_status,
        s.status_name,
        s.reportable
    from statuses s
    join final f on s.status_name = f.status_name
)

-- The statuses stand first in both joins: a hash join holds its first side in memory and
-- streams the other, and `named left join statuses` held every record of the bucket (at 1M
-- orders twice the time, and 2.9 GiB under a 2 GiB limit).
select
    n.* exclude (req_status_name, event_status, status_name, reportable),
    rq.event_status as req_status,
    n.event_status,
    n.status_name,
    n.reportable
from statuses rq
right join named n on rq.status_name = n.req_status_name
order by n.gateway, n.src_id
