-- event_status: the lifecycle statuses a record can have, and whether it is reported.
-- Grain: one row per status.
-- Reads: nothing (reference data).
-- Design: 002 section 7.3 (event status table). Reported only if the request reached the
-- upstream, plus the risk-management outcomes (REJ_BY_RMS, HOLD_BY_RMS).
select
    column1 as event_status,
    column2 as status_name,
    column3 as reportable,
    column4 as terminal,
    column5 as meaning
from (
    values
        (0, 'NORMAL',                    true,  false, 'normal'),
        (1, 'OUTBOUND_NOT_SEND_FIX_REQ', false, false, 'inbound request with no outbound FIX request sent'),
        (2, 'OUTBOUND_NOT_RECV_FIX_RSP', true,  false, 'sent upstream, no upstream response yet'),
        (3, 'REJ_BY_UPSTREAM',           true,  true,  'rejected by the upstream'),
        (4, 'INVALID_REQ',               false, true,  'invalid request, rejected by inbound'),
        (5, 'EVENT_STATUS_ENDED',        false, true,  'record after the order lifecycle ended'),
        (6, 'REJ_BY_RMS',                true,  true,  'rejected by risk management'),
        (7, 'HOLD_BY_RMS',               true,  false, 'held by risk management')
) as t
order by event_status
