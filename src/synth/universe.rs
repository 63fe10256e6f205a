//! What a generated day trades: the symbol list (with reference data and a base price), the
//! multi-leg strategies, the accounts and the client sessions that own them. Fixed by the seed.

use super::fix::SCALE;
use super::rng::{Rng, Zipf};

/// Tick size of every symbol, in millionths (0.01).
pub const TICK: i64 = SCALE / 100;
/// Lot size of every symbol, in millionths (1 share).
pub const LOT: i64 = SCALE;

/// Well-known names first (the most traded ranks); ETFs among them are marked.
const KNOWN: &[(&str, bool)] = &[
    ("AAPL", false),
    ("MSFT", false),
    ("SPY", true),
    ("TSLA", false),
    ("NVDA", false),
    ("AMZN", false),
    ("QQQ", true),
    ("META", false),
    ("GOOGL", false),
    ("AMD", false),
    ("NFLX", false),
    ("IWM", true),
    ("JPM", false),
    ("BAC", false),
    ("INTC", false),
    ("DIA", true),
    ("XLF", true),
    ("PLTR", false),
    ("UBER", false),
    ("DIS", false),
    ("KO", false),
    ("PFE", false),
    ("XOM", false),
    ("CVX", false),
    ("WMT", false),
    ("COST", false),
    ("ORCL", false),
    ("CRM", false),
    ("ADBE", false),
    ("AVGO", false),
];
/// Symbols that allow fractional quantities besides every tenth generated one.
const FRACTIONAL: &[&str] = &["AAPL", "TSLA", "AMZN", "NVDA", "SPY"];

#[derive(Debug, Clone)]
pub struct Symbol {
    pub name: String,
    /// FIX 167: CS, ETF, MLEG.
    pub security_type: &'static str,
    /// Reference price in millionths, on tick.
    pub base_px: i64,
    pub fractional: bool,
    /// A strategy's two legs (symbol indices), each ratio 1.
    pub legs: Option<(usize, usize)>,
}

#[derive(Debug)]
pub struct Universe {
    /// Single symbols first (`n_single` of them), then the strategies.
    pub symbols: Vec<Symbol>,
    pub n_single: usize,
    pub strategies: Vec<usize>,
    pub fractional: Vec<usize>,
    pub symbol_zipf: Zipf,
    pub accounts: usize,
    pub account_zipf: Zipf,
    pub clients: usize,
}

impl Universe {
    pub fn new(seed: u64, orders: u64) -> Universe {
        let mut rng = Rng::fork(seed, 1);
        let n_single = 300;
        let mut symbols: Vec<Symbol> = Vec::with_capacity(n_single + 8);
        let mut names = std::collections::HashSet::new();
        for i in 0..n_single {
            let (name, etf) = match KNOWN.get(i) {
                Some((n, etf)) => (n.to_string(), *etf),
                None => loop {
                    let len = rng.range(3, 4) as usize;
                    let name: String = (0..len)
                        .map(|_| (b'A' + rng.range(0, 25) as u8) as char)
                        .collect();
                    if !names.contains(&name) && !KNOWN.iter().any(|(k, _)| *k == name) {
                        break (name, rng.chance(0.05));
                    }
                },
            };
            names.insert(name.clone());
            // Log-uniform-ish price between 5 and 600 dollars, on tick.
            let dollars = 5.0 * (120.0f64).powf(rng.unit());
            let base_px = ((dollars * 100.0) as i64).max(500) * TICK;
            let fractional =
                FRACTIONAL.contains(&name.as_str()) || (i >= KNOWN.len() && i % 10 == 3);
            symbols.push(Symbol {
                name,
                security_type: if etf { "ETF" } else { "CS" },
                base_px,
                fractional,
                legs: None,
            });
        }
        let pairs = [
            (0, 1),
            (4, 9),
            (3, 5),
            (7, 8),
            (2, 6),
            (1, 26),
            (12, 13),
            (22, 23),
        ];
        let mut strategies = Vec::new();
        for (a, b) in pairs {
            strategies.push(symbols.len());
            symbols.push(Symbol {
                name: format!("{}-{}", symbols[a].name, symbols[b].name),
                security_type: "MLEG",
                base_px: TICK,
                fractional: false,
                legs: Some((a, b)),
            });
        }
        let fractional = (0..n_single).filter(|i| symbols[*i].fractional).collect();
        let accounts = ((orders / 20) as usize).max(10);
        Universe {
            symbols,
            n_single,
            strategies,
            fractional,
            symbol_zipf: Zipf::new(n_single, 1.1),
            accounts,
            account_zipf: Zipf::new(accounts, 1.0),
            clients: (accounts / 100).clamp(3, 50),
        }
    }

    pub fn account_name(&self, k: usize) -> String {
        format!("ACC-{:06}", k + 1)
    }

    pub fn client_of(&self, account: usize) -> usize {
        account % self.clients
    }

    /// CompID of a client session.
    pub fn client_comp(&self, client: usize) -> String {
        format!("CLIENT{}", client + 1)
    }

    pub fn client_sid(&self, client: usize) -> String {
        format!("CLI-C{:03}-01", client + 1)
    }

    pub fn corr(&self, account: usize) -> String {
        format!("CORR{}", self.client_of(account) + 1)
    }

    /// CAT accountHolderType: mostly individuals, every tenth an institution.
    pub fn account_type(&self, account: usize) -> &'static str {
        if account % 10 == 7 { "A" } else { "I" }
    }
}

/// The upstreams orders are routed to: (code, FIX session, prefix of venue ids).
pub const UPSTREAMS: [(&str, &str, &str); 3] = [
    ("NSDQ", "UP-NSDQ-01", "NQ"),
    ("ARCA", "UP-ARCA-01", "AX"),
    ("FRAC", "UP-FRAC-01", "FR"),
];
pub const NSDQ: usize = 0;
pub const ARCA: usize = 1;
pub const FRAC: usize = 2;
