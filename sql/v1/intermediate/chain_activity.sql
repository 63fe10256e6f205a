-- chain_activity: when each order chain last saw new input on the trade date: a message, or a
-- row of the OMS, id map, router or risk management about its order.
-- Grain: one row per chain_id with any activity on the trade date.
-- Reads: flow_complete, oms.orders, idmap.id_map, ems.route, oms.rms_event.
-- Design: 002 section 12 (30-minute windows): the stages that fill a record from its whole
-- chain (session_fill, business_fill, lifecycle) recompute exactly the chains active in the
-- window being processed, from everything those chains have seen so far. An order whose
-- response, release or reroute arrives in a later window is resolved there.
-- Window: activity in [$window_start, $window_end); a chain's row is replaced by its latest.
-- unique_key: chain_id
-- event_time: last_activity
-- bucket_by: chain_id
-- Written in chain buckets, so that each run of a chain stage reads its own chains.
with activity as (
    select chain_id, create_time
    from flow_complete
    where trade_date = $trade_date
      and create_time >= $window_start and create_time < $window_end
    union all
    select order_id, create_time
    from oms.orders
    where trade_date = $trade_date
      and create_time >= $window_start and create_time < $window_end
    union all
    select order_id, create_time
    from idmap.id_map
    where trade_date = $trade_date
      and create_time >= $window_start and create_time < $window_end
    union all
    select order_id, create_time
    from ems.route
    where trade_date = $trade_date
      and create_time >= $window_start and create_time < $window_end
    union all
    select order_id, create_time
    from oms.rms_event
    where trade_date = $trade_date
      and create_time >= $window_start and create_time < $window_end
)

select chain_id, max(create_time) as last_activity
from activity
group by chain_id
order by chain_id
