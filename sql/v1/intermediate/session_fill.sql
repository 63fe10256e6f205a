-- session_fill: every message classified into its record kind within its order chain, and
-- filled with the chain's and its request's fields, so that no report has to look elsewhere.
-- Grain: one row per flow_complete row of the trade date.
-- Reads: flow_complete and oms.orders (this and the previous trade date, so an order that
-- started yesterday is still filled today).
-- Design: 002 section 7 and 7.1 (record kinds; account_num, corr, root_cl_ord_id,
-- security_type, ord_type, side from the in_new_req; recv_time, sid_in from the inbound
-- request; sid_out, to_up from the outbound request).
--
-- Window: the chains active in the window (chain_activity), each recomputed from all its
-- input up to $window_end; their earlier records are emitted again with what is now known.
-- unique_key: gateway, src_id
-- event_time: create_time
-- join_order: as_written
--
-- bucket_by: chain_id
-- Buckets: one run per chain bucket; a run reads its bucket of chains and messages (by
-- partition), and the orders of its chains.
--
-- Chain-wide values are GROUP BY aggregates joined back (they spill to disk), and the
-- "most recent" pointers are window frames ending at the current row: no unbounded frames.
with -- The chains with input in this window (all of the day's, for a whole-day run).
active_chains as (
    select chain_id from chain_activity
    where trade_date = $trade_date and last_activity >= $window_start
      and bucket = $bucket
),

messages as (
    select m.* exclude (trade_date, bucket), m.trade_date as msg_date
    from active_chains a
    join flow_complete m on m.chain_id = a.chain_id
    where m.trade_date >= $trade_date - interval '1 day' and m.trade_date <= $trade_date
      and m.create_time < $window_end
      -- implied by the join; said here so the scan of flow_complete reads the bucket only
      and m.bucket = $bucket
),

orders as (
    select order_id, root_cl_ord_id, account_num, corr, account_type, security_type
    from oms.orders
    where trade_date >= $trade_date - interval '1 day' and trade_date <= $trade_date
      and create_time < $window_end
      -- an order's messages have chain_id = order_id
      and bucket(order_id, $buckets) = $bucket
),

classified as (
    select
        *,
        case
            when gateway = 'inbound' and direction = 'recv' and msg_type = 0 then 'in_new_req'
            when gateway = 'inbound' and direction = 'recv' then 'in_req'
            when gateway = 'inbound' then 'in_rsp'
            when direction = 'send' and msg_type = 0 then 'out_new_req'
            when direction = 'send' then 'out_req'
            when msg_type = 3 and exec_type = '8' then 'out_new_rej_er'
            when msg_type = 4 then 'out_cxl_rej'
            when msg_type = 5 then 'out_rej'
            else 'out_rsp'
        end as base_kind
    from messages
),

-- The chain's first new-order request: the fields every record of the order inherits.
new_requests as (
    select
        chain_id,
        first_value(cl_ord_id order by create_time, src_id) as new_cl_ord_id,
        first_value(account order by create_time, src_id) as new_account,
        first_value(symbol order by create_time, src_id) as new_symbol,
        first_value(side order by create_time, src_id) as new_side,
        first_value(ord_type order by create_time, src_id) as new_ord_type,
        first_value(tif order by create_time, src_id) as new_tif,
        first_value(price order by create_time, src_id) as new_price,
        first_value(qty order by create_time, src_id) as new_qty,
        first_value(leg_count order by create_time, src_id) as new_leg_count,
        min(create_time) as order_recv_time
    from classified
    where base_kind = 'in_new_req'
    group by chain_id
),

-- The chain ends when the client is told the order is filled, canceled, rejected or expired.
chain_ends as (
    select chain_id, min(create_time) as ended_at
    from classified
    where base_kind = 'in_rsp' and msg_type = 3 and ord_status in ('2', '4', '8', 'C')
    group by chain_id
),

-- Each client request: when and on which session it arrived.
in_requests as (
    select
        req_key,
        min(create_time) as recv_time,
        first_value(sid order by create_time, src_id) as sid_in,
        first_value(msg_type order by create_time, src_id) as req_msg_type
    from classified
    where base_kind in ('in_new_req', 'in_req')
    group by req_key
),

-- Each client request's traffic to the upstream: first session and upstream it went out on.
out_requests as (
    select
        req_key,
        first_value(sid order by create_time, src_id) as sid_out,
        first_value(upstream order by create_time, src_id) as to_up,
        min(create_time) as first_sent_time,
        count(*) as out_req_count
    from classified
    where base_kind in ('out_new_req', 'out_req')
    group by req_key
),

-- Fill each record from its chain, its order and its requests, one join at a time with the
-- small side first (`small right join records`): a hash join holds its first side in memory,
-- and the records are the big side.
with_new_request as (
    select
        c.*,
        n.new_cl_ord_id,
        n.new_account,
        n.new_symbol,
        n.new_side,
        n.new_ord_type,
        n.new_tif,
        n.new_price,
        n.new_qty,
        n.new_leg_count,
        n.order_recv_time
    from new_requests n
    right join classified c on n.chain_id = c.chain_id
),

with_end as (
    select w.*, e.ended_at
    from chain_ends e
    right join with_new_request w on e.chain_id = w.chain_id
),

with_order as (
    select
        w.*,
        o.account_num as oms_account_num,
        o.corr,
        o.account_type,
        o.security_type,
        o.root_cl_ord_id as oms_root_cl_ord_id
    from orders o
    right join with_end w on o.order_id = w.order_id
),

with_in_request as (
    select w.*, r.recv_time, r.sid_in, r.req_msg_type
    from in_requests r
    right join with_order w on r.req_key = w.req_key
),

filled as (
    select
        w.*,
        case
            when w.ended_at is not null and w.create_time > w.ended_at then 'ended_record'
            else w.base_kind
        end as record_kind,
        coalesce(w.oms_root_cl_ord_id, w.new_cl_ord_id) as root_cl_ord_id,
        q.sid_out,
        q.to_up,
        q.first_sent_time,
        coalesce(q.out_req_count, 0) as out_req_count
    from out_requests q
    right join with_in_request w on q.req_key = w.req_key
),

-- Per record: the latest execution report on each side up to and including it, and the
-- chain's first trade date (dates follow create_time, so the running minimum is the chain's
-- minimum). Computed over narrow rows: sorting the whole records per chain would hold their
-- full width in the sort.
recent as (
    select
        gateway,
        src_id,
        max(case when base_kind = 'in_rsp' and msg_type = 3 then src_id end) over (
            partition by chain_id order by create_time, gateway, src_id
            rows between unbounded preceding and current row
        ) as in_recent_er_id,
        max(case when gateway = 'outbound' and direction = 'recv' and msg_type = 3 then src_id end) over (
            partition by chain_id order by create_time, gateway, src_id
            rows between unbounded preceding and current row
        ) as out_recent_er_id,
        min(msg_date) over (
            partition by chain_id order by create_time, gateway, src_id
            rows between unbounded preceding and current row
        ) as first_msg_date
    from classified
),

with_recent as (
    select f.*, r.in_recent_er_id, r.out_recent_er_id, r.first_msg_date
    from recent r
    right join filled f on r.gateway = f.gateway and r.src_id = f.src_id
),

final as (
    select
        gateway,
        src_id,
        create_time,
        direction,
        sid,
        upstream,
        chain_id,
        req_key,
        record_kind,
        base_kind,
        msg_type,
        fix_msg_type,
        is_request,
        parse_error,
        order_id,
        root_cl_ord_id,
        req_cl_ord_id,
        cl_ord_id,
        orig_cl_ord_id,
        out_cl_ord_id,
        fix_order_id,
        ref_src_id,
        coalesce(oms_account_num, new_account, account) as account_num,
        corr,
        account_type,
        security_type,
        coalesce(new_symbol, symbol) as order_symbol,
        symbol,
        coalesce(new_side, side) as order_side,
        side,
        coalesce(new_ord_type, ord_type) as ord_type,
        coalesce(new_tif, tif) as tif,
        new_price as order_price,
        new_qty as order_qty,
        price,
        qty,
        exec_id,
        exec_type,
        ord_status,
        last_qty,
        last_px,
        cum_qty,
        leaves_qty,
        avg_px,
        text,
        cxl_rej_response_to,
        cxl_rej_reason,
        session_reject_reason,
        new_leg_count as order_leg_count,
        leg_symbols,
        leg_sides,
        leg_ratio_qtys,
        order_recv_time,
        recv_time,
        case when gateway = 'inbound' then sid else sid_in end as sid_in,
        req_msg_type,
        case when gateway = 'outbound' then sid else sid_out end as sid_out,
        case when gateway = 'outbound' then upstream else to_up end as to_up,
        first_sent_time,
        out_req_count,
        ended_at,
        first_msg_date,
        in_recent_er_id,
        out_recent_er_id,
        msg_date
    from with_recent
)

select * exclude (msg_date)
from final
where msg_date = $trade_date
order by gateway, src_id
