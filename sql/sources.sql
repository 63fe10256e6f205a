-- Raw replica tables that ordertrail reads: one CREATE TABLE per source table, in MySQL syntax.
--
-- This file is the single declaration of the sources (the contract with the trading system's
-- databases). The fixture loader reads it to type the CSV files in data-fixtures/, the sync
-- command checks replicas against it, and stages refer to these tables as <db>.<table>.
-- Each table lands in the lake as raw/<db>/<table>/trade_date=YYYY-MM-DD/, partitioned by the
-- UTC date of create_time. All times are UTC.

-- Client-facing FIX gateway: every message received from or sent to a client, as logged.
create table inbound.fix_msg (
  id          bigint       not null primary key,
  create_time datetime(6)  not null,
  sid         varchar(32)  not null,  -- client FIX session
  direction   varchar(4)   not null,  -- 'recv' = from the client, 'send' = to the client
  fix         text         not null   -- tag=value, '|' or SOH separated
);

-- Upstream-facing FIX gateway: every message sent to or received from an upstream venue/broker.
create table outbound.fix_msg (
  id          bigint       not null primary key,
  create_time datetime(6)  not null,
  sid         varchar(32)  not null,  -- upstream FIX session
  upstream    varchar(16)  not null,  -- venue or broker code, e.g. NSDQ, ARCA, FRAC, BOAT
  direction   varchar(4)   not null,  -- 'send' = to the upstream, 'recv' = from the upstream
  fix         text         not null
);

-- Order management: one row per order accepted from a client.
create table oms.orders (
  id             bigint        not null primary key,
  create_time    datetime(6)   not null,
  order_id       varchar(32)   not null,  -- internal order id, shared by every message of the order
  root_cl_ord_id varchar(64)   not null,  -- the client's ClOrdID on the new order
  account_num    varchar(32)   not null,
  corr           varchar(16)   not null,  -- correspondent (introducing firm) of the account
  account_type   varchar(1)    not null,  -- CAT accountHolderType: I, A, E, P ...
  symbol         varchar(32)   not null,
  security_type  varchar(8)    not null,  -- FIX 167: CS, ETF, MLEG
  side           varchar(1)    not null,  -- FIX 54
  ord_type       varchar(1)    not null,  -- FIX 40
  qty            decimal(18,6) not null,
  price          decimal(18,6) null
);

-- Risk management decisions on client requests.
create table oms.rms_event (
  id          bigint       not null primary key,
  create_time datetime(6)  not null,
  order_id    varchar(32)  not null,
  cl_ord_id   varchar(64)  not null,  -- the client request the decision is about
  action      varchar(8)   not null,  -- PASS, HOLD, RELEASE, REJECT
  reason      varchar(128) null
);

-- Execution management: one row per route of a client request to an upstream.
create table ems.route (
  id              bigint      not null primary key,
  create_time     datetime(6) not null,
  route_id        varchar(32) not null,
  order_id        varchar(32) not null,
  cl_ord_id       varchar(64) not null,  -- the client request this route carries out
  out_cl_ord_id   varchar(64) not null,  -- ClOrdID sent upstream
  upstream        varchar(16) not null,
  parent_route_id varchar(32) null,      -- on a reroute: the route it replaces
  leg_seq         int         not null   -- 0 single order; 1..n legs of a multi-leg order
);

-- Id map: links client ClOrdIDs, internal order ids and upstream ClOrdIDs.
-- One row when a client request is accepted (out_cl_ord_id null), one per upstream ClOrdID.
create table idmap.id_map (
  id            bigint      not null primary key,
  create_time   datetime(6) not null,
  order_id      varchar(32) not null,
  in_cl_ord_id  varchar(64) not null,
  out_cl_ord_id varchar(64) null,
  upstream      varchar(16) null
);

-- Fund ledger: every change of an account's cash balance, with the balance before and after.
create table fund.ledger (
  id             bigint        not null primary key,
  create_time    datetime(6)   not null,
  account_num    varchar(32)   not null,
  currency       varchar(3)    not null,
  change_type    varchar(16)   not null,  -- DEPOSIT, WITHDRAW, TRADE, FEE, TRANSFER
  ref_id         varchar(64)   null,      -- TRADE: the client ExecID; TRANSFER: shared by both legs
  before_balance decimal(20,6) null,
  delta          decimal(20,6) null,
  after_balance  decimal(20,6) null,
  reason         varchar(128)  null
);

-- Symbol reference data, one snapshot per trade date.
create table refdata.symbol (
  id                 bigint        not null primary key,
  create_time        datetime(6)   not null,
  symbol             varchar(32)   not null,
  tick_size          decimal(18,6) not null,  -- prices must be a multiple of it
  lot_size           decimal(18,6) not null,  -- quantities must be a multiple of it ...
  fractional_allowed int           not null   -- ... unless 1: any positive quantity
);
