-- session_fill, hand-ported to MariaDB: sql/v1/intermediate/session_fill.sql. first_value(x
-- order by ...) aggregates become ROW_NUMBER() = 1 picks; each chain- or request-level
-- aggregate is materialised with its key, then joined back.
drop temporary table if exists sf_classified;
create temporary table sf_classified (
    primary key (gateway, src_id), key (chain_id), key (req_key), key (order_id)
) engine=InnoDB
select
    fc.*,
    @trade_date as msg_date,
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
from flow_complete fc;

drop temporary table if exists sf_new_requests;
create temporary table sf_new_requests (primary key (chain_id)) engine=InnoDB
select chain_id, cl_ord_id as new_cl_ord_id, account as new_account, symbol as new_symbol,
       side as new_side, ord_type as new_ord_type, tif as new_tif, price as new_price,
       qty as new_qty, leg_count as new_leg_count, create_time as order_recv_time
from (
    select c.*, row_number() over (partition by chain_id order by create_time, src_id) as rn
    from sf_classified c where base_kind = 'in_new_req'
) t
where rn = 1;

drop temporary table if exists sf_chain_ends;
create temporary table sf_chain_ends (primary key (chain_id)) engine=InnoDB
select chain_id, min(create_time) as ended_at
from sf_classified
where base_kind = 'in_rsp' and msg_type = 3 and ord_status in ('2', '4', '8', 'C')
group by chain_id;

drop temporary table if exists sf_chain_spans;
create temporary table sf_chain_spans (primary key (chain_id)) engine=InnoDB
select chain_id, min(msg_date) as first_msg_date, max(create_time) as last_msg_time
from sf_classified
group by chain_id;

drop temporary table if exists sf_in_requests;
create temporary table sf_in_requests (primary key (req_key)) engine=InnoDB
select req_key, create_time as recv_time, sid as sid_in, msg_type as req_msg_type
from (
    select c.*, row_number() over (partition by req_key order by create_time, src_id) as rn
    from sf_classified c where base_kind in ('in_new_req', 'in_req')
) t
where rn = 1;

drop temporary table if exists sf_out_requests;
create temporary table sf_out_requests (primary key (req_key)) engine=InnoDB
select req_key, sid as sid_out, upstream as to_up, create_time as first_sent_time, n as out_req_count
from (
    select c.*, row_number() over (partition by req_key order by create_time, src_id) as rn,
           count(*) over (partition by req_key) as n
    from sf_classified c where base_kind in ('out_new_req', 'out_req')
) t
where rn = 1;

drop temporary table if exists sf_orders;
create temporary table sf_orders (primary key (order_id)) engine=InnoDB
select order_id, min(root_cl_ord_id) as root_cl_ord_id, min(account_num) as account_num,
       min(corr) as corr, min(account_type) as account_type, min(security_type) as security_type
from raw_oms_orders
where trade_date >= @trade_date - interval 1 day and trade_date <= @trade_date
group by order_id;

drop table if exists session_fill;
create table session_fill (
    gateway varchar(8) not null, src_id bigint not null, create_time datetime(6) not null,
    direction varchar(4), sid varchar(32), upstream varchar(16), chain_id varchar(96),
    req_key varchar(96), record_kind varchar(16), base_kind varchar(16), msg_type int,
    fix_msg_type varchar(8), is_request boolean, parse_error varchar(255), order_id varchar(32),
    root_cl_ord_id varchar(64), req_cl_ord_id varchar(64), cl_ord_id varchar(64),
    orig_cl_ord_id varchar(64), out_cl_ord_id varchar(64), fix_order_id varchar(64),
    ref_src_id bigint, account_num varchar(32), corr varchar(16), account_type varchar(1),
    security_type varchar(8), order_symbol varchar(32), symbol varchar(32), order_side varchar(2),
    side varchar(2), ord_type varchar(3), tif varchar(3), order_price decimal(18,6),
    order_qty decimal(18,6), price decimal(18,6), qty decimal(18,6), exec_id varchar(64),
    exec_type varchar(4), ord_status varchar(4), last_qty decimal(18,6), last_px decimal(18,6),
    cum_qty decimal(18,6), leaves_qty decimal(18,6), avg_px decimal(18,6), text varchar(255),
    cxl_rej_response_to varchar(4), cxl_rej_reason varchar(8), session_reject_reason varchar(8),
    order_leg_count int, leg_symbols varchar(255), leg_sides varchar(255),
    leg_ratio_qtys varchar(255), order_recv_time datetime(6), recv_time datetime(6),
    sid_in varchar(32), req_msg_type int, sid_out varchar(32), to_up varchar(16),
    first_sent_time datetime(6), out_req_count bigint, ended_at datetime(6), first_msg_date date,
    in_recent_er_id bigint, out_recent_er_id bigint,
    primary key (gateway, src_id)
) engine=InnoDB;
insert into session_fill
select
    gateway, src_id, create_time, direction, sid, upstream, chain_id, req_key, record_kind,
    base_kind, msg_type, fix_msg_type, is_request, parse_error, order_id, root_cl_ord_id,
    req_cl_ord_id, cl_ord_id, orig_cl_ord_id, out_cl_ord_id, fix_order_id, ref_src_id,
    coalesce(oms_account_num, new_account, account), corr, account_type, security_type,
    coalesce(new_symbol, symbol), symbol, coalesce(new_side, side), side,
    coalesce(new_ord_type, ord_type), coalesce(new_tif, tif), new_price, new_qty, price, qty,
    exec_id, exec_type, ord_status, last_qty, last_px, cum_qty, leaves_qty, avg_px, text,
    cxl_rej_response_to, cxl_rej_reason, session_reject_reason, new_leg_count, leg_symbols,
    leg_sides, leg_ratio_qtys, order_recv_time, recv_time,
    case when gateway = 'inbound' then sid else sid_in end,
    req_msg_type,
    case when gateway = 'outbound' then sid else sid_out end,
    case when gateway = 'outbound' then upstream else to_up end,
    first_sent_time, out_req_count, ended_at, first_msg_date,
    max(case when base_kind = 'in_rsp' and msg_type = 3 then src_id end) over (
        partition by chain_id order by create_time, gateway, src_id
        rows between unbounded preceding and current row),
    max(case when gateway = 'outbound' and direction = 'recv' and msg_type = 3 then src_id end) over (
        partition by chain_id order by create_time, gateway, src_id
        rows between unbounded preceding and current row)
from (
    select
        c.*,
        case when e.ended_at is not null and c.create_time > e.ended_at then 'ended_record'
             else c.base_kind end as record_kind,
        e.ended_at, s.first_msg_date,
        o.account_num as oms_account_num, o.corr, o.account_type, o.security_type,
        coalesce(o.root_cl_ord_id, n.new_cl_ord_id) as root_cl_ord_id,
        n.new_account, n.new_symbol, n.new_side, n.new_ord_type, n.new_tif, n.new_price,
        n.new_qty, n.new_leg_count, n.order_recv_time,
        r.recv_time, r.sid_in, r.req_msg_type,
        q.sid_out, q.to_up, q.first_sent_time, coalesce(q.out_req_count, 0) as out_req_count
    from sf_classified c
    left join sf_new_requests n on n.chain_id = c.chain_id
    left join sf_chain_ends e on e.chain_id = c.chain_id
    left join sf_chain_spans s on s.chain_id = c.chain_id
    left join sf_orders o on o.order_id = c.order_id
    left join sf_in_requests r on r.req_key = c.req_key
    left join sf_out_requests q on q.req_key = c.req_key
) filled
where msg_date = @trade_date
