-- members: the keys that tie raw rows to one order's chain, for `ordertrail extract`.
-- Parameters: $order (an OMS order id or a chain id), $d0 and $d1 (the day before the trade
-- date, when an order may have begun, and the trade date).
-- Reads: flow_complete.
--
-- One row per key. `kind` is the column a raw table is matched on, `db` (when set) the only
-- source db whose tables it applies to. A raw table keeps the rows whose value in the first
-- applicable kind's column (lowest `priority`) is among that kind's keys; a table no kind
-- applies to (reference data) is extracted whole. Every kind is declared with a NULL key too,
-- so that it applies (and matches nothing) when the chain has no key of it: a chain that never
-- went upstream has no outbound messages, not all of them.
--   id        the chain's FIX messages, by raw id, in the tables of their gateway
--   order_id  the chain's OMS orders (OMS, risk, route and id-map rows)
--   ref_id    the chain's executions (ledger rows)
with chains as (
    select distinct chain_id
    from flow_complete
    where trade_date >= $d0 and trade_date <= $d1
      and (chain_id = $order or order_id = $order) and chain_id is not null
),

chain as (
    select f.gateway, f.src_id, f.order_id, f.exec_id, f.chain_id
    from chains c
    join flow_complete f on f.chain_id = c.chain_id
    where f.trade_date >= $d0 and f.trade_date <= $d1
)

select distinct kind, db, key, priority from (
    select 'id' as kind, cast(gateway as varchar) as db, cast(src_id as varchar) as key, 1 as priority
    from chain where src_id is not null
    union all
    select 'order_id', cast(null as varchar), order_id, 2 from chain where order_id is not null
    union all
    select 'order_id', cast(null as varchar), chain_id, 2 from chains
    union all
    select 'ref_id', cast(null as varchar), exec_id, 3 from chain where exec_id is not null
    union all
    select 'chain', cast(null as varchar), chain_id, 0 from chains
    union all
    select column1, column2, cast(null as varchar), column3
    from (values ('id', 'inbound', 1), ('id', 'outbound', 1), ('order_id', null, 2),
                 ('ref_id', null, 3)) as kinds
) k
order by priority, kind, db, key
