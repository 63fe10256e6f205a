-- business_fill: session_fill plus the special-business fields: reroutes (linked to the route
-- they replace and to the order's first route), multi-leg orders (parent and legs), fractional
-- quantities, and the trading session of 24-hour trading, including orders carried in from an
-- earlier trade date or still open at its end.
-- Grain: one row per session_fill row of the trade date.
-- Reads: session_fill, ems.route (this and the previous trade date).
-- Design: 002 section 7.2 (reroute, multi-leg, fractional shares, 24-hour trading); the result
-- is the design's order_trail_flow_info_new table.
-- Window: the chains active in the window (chain_activity), each recomputed from all its
-- input up to $window_end; their earlier records are emitted again with what is now known.
-- unique_key: gateway, src_id
-- event_time: create_time
-- join_order: as_written
--
-- bucket_by: chain_id
-- Buckets: one run per chain bucket; a run reads its bucket of chains and records (by
-- partition), and the routes of their orders and upstream ClOrdIDs.
with -- The chains with input in this window (all of the day's, for a whole-day run).
active_chains as (
    select chain_id from chain_activity
    where trade_date = $trade_date and last_activity >= $window_start
      and bucket = $bucket
),

records as (
    select r.* exclude (trade_date, bucket)
    from active_chains a
    join session_fill r on r.chain_id = a.chain_id
    where r.trade_date = $trade_date and r.create_time < $window_end
      -- implied by the join; said here so the scan of session_fill reads the bucket only
      and r.bucket = $bucket
),

routes as (
    select route_id, order_id, out_cl_ord_id, parent_route_id, leg_seq
    from ems.route
    where trade_date >= $trade_date - interval '1 day' and trade_date <= $trade_date
      and create_time < $window_end
),

-- The routes of this bucket's upstream ClOrdIDs (a record's route is found by its
-- out_cl_ord_id, whichever chain the route's order is in).
bucket_routes as (
    select rt.*
    from (select distinct out_cl_ord_id from records where out_cl_ord_id is not null) k
    join routes rt on rt.out_cl_ord_id = k.out_cl_ord_id
),

order_routes as (
    select
        order_id,
        count(*) as route_count,
        sum(case when parent_route_id is not null then 1 else 0 end) as reroute_count,
        max(leg_seq) as route_leg_count
    from routes
    -- a record with an order_id has chain_id = order_id
    where bucket(order_id, $buckets) = $bucket
    group by order_id
),

-- Eastern Time wall clock of the order's arrival decides its trading session.
sessions as (
    select
        r.*,
        to_local_time(arrow_cast(r.order_recv_time, 'Timestamp(µs, "America/New_York")')) as order_recv_et
    from records r
),

-- Joins put the small side first (`small right join records`): it is held in memory.
with_route as (
    select
        s.*,
        rt.route_id,
        rt.parent_route_id,
        rt.leg_seq
    from bucket_routes rt
    right join sessions s on rt.out_cl_ord_id = s.out_cl_ord_id
),

final as (
    select
        s.* exclude (order_recv_et, route_id, parent_route_id, leg_seq),
        s.route_id,
        s.parent_route_id,
        s.leg_seq,
        s.parent_route_id is not null as is_reroute,
        coalesce(s.parent_route_id, s.route_id) as first_route_id,
        coalesce(o.reroute_count, 0) > 0 as order_rerouted,
        coalesce(s.order_leg_count > 0 or s.security_type = 'MLEG', false) as is_multi_leg,
        coalesce(s.order_leg_count, o.route_leg_count, 0) as leg_count,
        coalesce(s.order_qty % 1 <> 0, false) as is_fractional,
        case
            when s.order_recv_et is null then null
            when cast(s.order_recv_et as time) >= time '04:00:00' and cast(s.order_recv_et as time) < time '09:30:00' then 'PRE'
            when cast(s.order_recv_et as time) >= time '09:30:00' and cast(s.order_recv_et as time) < time '16:00:00' then 'REG'
            when cast(s.order_recv_et as time) >= time '16:00:00' and cast(s.order_recv_et as time) < time '20:00:00' then 'POST'
            else 'OVERNIGHT'
        end as trading_session,
        s.first_msg_date < $trade_date as carried_in,
        s.ended_at is null as open_at_end
    from order_routes o
    right join with_route s on o.order_id = s.order_id
)

select * from final
order by gateway, src_id
