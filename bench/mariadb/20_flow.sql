-- flow, hand-ported to MariaDB: sql/v1/intermediate/flow.sql (same columns and codes).
drop table if exists flow;
create table flow (
    gateway varchar(8) not null, src_id bigint not null, create_time datetime(6) not null,
    sid varchar(32), upstream varchar(16), direction varchar(4), msg_type int, fix_msg_type varchar(8),
    parse_error varchar(255), msg_seq_num bigint, ref_seq_num bigint, ref_msg_type varchar(8),
    session_reject_reason varchar(8), cl_ord_id varchar(64), orig_cl_ord_id varchar(64),
    fix_order_id varchar(64), exec_id varchar(64), exec_type varchar(4), ord_status varchar(4),
    account varchar(32), symbol varchar(32), side varchar(2), ord_type varchar(3), tif varchar(3),
    price decimal(18,6), qty decimal(18,6), last_qty decimal(18,6), last_px decimal(18,6),
    cum_qty decimal(18,6), leaves_qty decimal(18,6), avg_px decimal(18,6), text varchar(255),
    cxl_rej_response_to varchar(4), cxl_rej_reason varchar(8), leg_count int,
    leg_symbols varchar(255), leg_sides varchar(255), leg_ratio_qtys varchar(255), fix text,
    is_request boolean,
    primary key (gateway, src_id),
    key (gateway, sid, msg_seq_num)  -- for flow_complete's session-reject lookup
) engine=InnoDB;
insert into flow
select u.*, u.msg_type in (0, 1, 2) as is_request
from (
    select
        gateway, src_id, create_time, sid, upstream, direction,
        case
            when parse_error like 'field%' or parse_error like 'message must%'
              or parse_error = 'empty message' then null
            when fix_msg_type in ('D', 'AB') then 0
            when fix_msg_type = 'G' then 1
            when fix_msg_type = 'F' then 2
            when fix_msg_type = '8' then 3
            when fix_msg_type = '9' then 4
            when fix_msg_type in ('3', 'j') then 5
        end as msg_type,
        fix_msg_type, parse_error, msg_seq_num, ref_seq_num, ref_msg_type, session_reject_reason,
        cl_ord_id, orig_cl_ord_id, fix_order_id, exec_id, exec_type, ord_status, account, symbol,
        case side_code when '1' then 'B' when '2' then 'S' when '5' then 'SS' when '6' then 'SX' end as side,
        case ord_type_code when '1' then 'MKT' when '2' then 'LMT' end as ord_type,
        case tif_code when '0' then 'DAY' when '1' then 'GTC' when '3' then 'IOC' when '4' then 'FOK'
                      when '6' then 'GTD' end as tif,
        price, qty, last_qty, last_px, cum_qty, leaves_qty, avg_px, text, cxl_rej_response_to,
        cxl_rej_reason, leg_count, leg_symbols, leg_sides, leg_ratio_qtys, fix
    from stg_fix_msg
) u
where u.msg_type is not null or u.parse_error is not null
