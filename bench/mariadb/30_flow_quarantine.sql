-- flow_quarantine, hand-ported to MariaDB: sql/v1/intermediate/flow_quarantine.sql.
drop table if exists flow_quarantine;
create table flow_quarantine (
    gateway varchar(8) not null, src_id bigint not null, create_time datetime(6) not null,
    sid varchar(32), direction varchar(4), fix_msg_type varchar(8), reason varchar(64), fix text,
    primary key (gateway, src_id)
) engine=InnoDB;
insert into flow_quarantine
select gateway, src_id, create_time, sid, direction, fix_msg_type,
       concat('not a report target: 35=', coalesce(fix_msg_type, 'NULL')), fix
from stg_fix_msg
where parse_error is null
  and (fix_msg_type is null or fix_msg_type not in ('D', 'AB', 'G', 'F', '8', '9', '3', 'j'))
