//! AQL the StreamForge workers run, named once so the protocol test server can answer exactly
//! these.

/// The documents of one symbol whose `open_time` is in `[@start, @end)`, oldest first: candles
/// as the arango-connector stores them. Bind variables: `@col`, `symbol`, `start`, `end`.
pub const SYMBOL_TIME_RANGE: &str = "FOR d IN @@col FILTER d.symbol == @symbol AND d.open_time >= @start AND d.open_time < @end SORT d.open_time RETURN d";
