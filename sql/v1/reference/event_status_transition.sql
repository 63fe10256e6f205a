-- event_status_transition: the allowed moves of a record's event_status when later data
-- arrives (a later window or trade date), and what triggers each.
-- Grain: one row per (from_status, to_status).
-- Reads: nothing (reference data).
-- Design: 002 section 7.3 (state machine table). Terminal statuses (3, 4, 5, 6) have no row
-- here: they never change.
select
    column1 as from_status,
    column2 as to_status,
    column3 as trigger
from (
    values
        (0, 1, 'inbound request has no matching outbound request'),
        (0, 2, 'outbound request sent, no response'),
        (1, 0, 'a later window holds the outbound request'),
        (1, 2, 'outbound request found, still no response'),
        (2, 0, 'a later window holds the upstream response'),
        (2, 3, 'a later window holds the upstream reject'),
        (7, 0, 'risk management released the order'),
        (7, 6, 'risk management rejected the order')
) as t
order by from_status, to_status
