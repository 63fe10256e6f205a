-- flow_complete, hand-ported to MariaDB: sql/v1/intermediate/flow_complete.sql. The id-map
-- aggregates and the session-reject references are materialised with keys first, as an
-- INSERT ... SELECT pipeline would.
drop temporary table if exists fc_client_ids;
create temporary table fc_client_ids (in_cl_ord_id varchar(64) primary key, order_id varchar(32)) engine=InnoDB
select in_cl_ord_id, min(order_id) as order_id
from raw_idmap_id_map
where trade_date >= @trade_date - interval 1 day and trade_date <= @trade_date
group by in_cl_ord_id;
drop temporary table if exists fc_upstream_ids;
create temporary table fc_upstream_ids (out_cl_ord_id varchar(64) primary key, order_id varchar(32), in_cl_ord_id varchar(64)) engine=InnoDB
select out_cl_ord_id, min(order_id) as order_id, min(in_cl_ord_id) as in_cl_ord_id
from raw_idmap_id_map
where trade_date >= @trade_date - interval 1 day and trade_date <= @trade_date and out_cl_ord_id is not null
group by out_cl_ord_id;
drop temporary table if exists fc_rejected_refs;
create temporary table fc_rejected_refs (gateway varchar(8), src_id bigint, ref_src_id bigint, ref_cl_ord_id varchar(64), primary key (gateway, src_id)) engine=InnoDB
select r.gateway, r.src_id, min(m.src_id) as ref_src_id, min(m.cl_ord_id) as ref_cl_ord_id
from flow r
join flow m
  on m.gateway = r.gateway and m.sid = r.sid and m.direction <> r.direction and m.msg_seq_num = r.ref_seq_num
where r.fix_msg_type = '3'
group by r.gateway, r.src_id;
drop table if exists flow_complete;
create table flow_complete (
    gateway varchar(8) not null, src_id bigint not null, create_time datetime(6) not null,
    sid varchar(32), upstream varchar(16), direction varchar(4), msg_type int, fix_msg_type varchar(8),
    is_request boolean, parse_error varchar(255), req_cl_ord_id varchar(64), out_cl_ord_id varchar(64),
    order_id varchar(32), req_key varchar(96), ref_src_id bigint, msg_seq_num bigint, ref_seq_num bigint,
    session_reject_reason varchar(8), cl_ord_id varchar(64), orig_cl_ord_id varchar(64),
    fix_order_id varchar(64), exec_id varchar(64), exec_type varchar(4), ord_status varchar(4),
    account varchar(32), symbol varchar(32), side varchar(2), ord_type varchar(3), tif varchar(3),
    price decimal(18,6), qty decimal(18,6), last_qty decimal(18,6), last_px decimal(18,6),
    cum_qty decimal(18,6), leaves_qty decimal(18,6), avg_px decimal(18,6), text varchar(255),
    cxl_rej_response_to varchar(4), cxl_rej_reason varchar(8), leg_count int,
    leg_symbols varchar(255), leg_sides varchar(255), leg_ratio_qtys varchar(255),
    chain_id varchar(96),
    primary key (gateway, src_id)
) engine=InnoDB;
insert into flow_complete
select x.*, coalesce(x.order_id, x.req_key) as chain_id
from (
    select
        c.gateway, c.src_id, c.create_time, c.sid, c.upstream, c.direction, c.msg_type, c.fix_msg_type,
        c.is_request, c.parse_error,
        case when c.gateway = 'inbound' then c.own_cl_ord_id else u.in_cl_ord_id end as req_cl_ord_id,
        case when c.gateway = 'outbound' then c.own_cl_ord_id end as out_cl_ord_id,
        coalesce(ci.order_id, u.order_id) as order_id,
        coalesce(
            concat('req:', case when c.gateway = 'inbound' then c.own_cl_ord_id else u.in_cl_ord_id end),
            concat('msg:', c.gateway, ':', coalesce(c.ref_src_id, c.src_id))
        ) as req_key,
        c.ref_src_id, c.msg_seq_num, c.ref_seq_num, c.session_reject_reason, c.cl_ord_id,
        c.orig_cl_ord_id, c.fix_order_id, c.exec_id, c.exec_type, c.ord_status, c.account, c.symbol,
        c.side, c.ord_type, c.tif, c.price, c.qty, c.last_qty, c.last_px, c.cum_qty, c.leaves_qty,
        c.avg_px, c.text, c.cxl_rej_response_to, c.cxl_rej_reason, c.leg_count, c.leg_symbols,
        c.leg_sides, c.leg_ratio_qtys
    from (
        select f.*, rr.ref_src_id, coalesce(f.cl_ord_id, rr.ref_cl_ord_id) as own_cl_ord_id
        from flow f
        left join fc_rejected_refs rr on rr.gateway = f.gateway and rr.src_id = f.src_id
    ) c
    left join fc_client_ids ci on c.gateway = 'inbound' and ci.in_cl_ord_id = c.own_cl_ord_id
    left join fc_upstream_ids u on c.gateway = 'outbound' and u.out_cl_ord_id = c.own_cl_ord_id
) x
