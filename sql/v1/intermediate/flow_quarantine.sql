-- flow_quarantine: well-formed FIX messages that are not report targets (session messages such
-- as Logon, Heartbeat, TestRequest, or types ordertrail does not report), with the reason.
-- Together with flow this accounts for every stg_fix_msg row.
-- Grain: one row per excluded message of the trade date.
-- Reads: stg_fix_msg.
-- Window: the messages created in [$window_start, $window_end).
-- unique_key: gateway, src_id
-- event_time: create_time
-- Design: 002 section 6.2 (extract target records); nothing is dropped silently.
with messages as (
    select * exclude (trade_date) from stg_fix_msg
    where trade_date = $trade_date
      and create_time >= $window_start and create_time < $window_end
),

final as (
    select
        gateway,
        src_id,
        create_time,
        sid,
        direction,
        fix_msg_type,
        'not a report target: 35=' || coalesce(fix_msg_type, 'NULL') as reason,
        fix
    from messages
    where parse_error is null
      and (fix_msg_type is null or fix_msg_type not in ('D', 'AB', 'G', 'F', '8', '9', '3', 'j'))
)

select * from final
order by gateway, src_id
