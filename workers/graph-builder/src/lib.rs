//! graph-builder: stored candles into a graph of (symbol, window) nodes with features, labels, temporal and cross-asset edges.
