"""How a fit starts and runs: k-means starts, multi-start optimization, the
NUTS metric policy, within-chain threads. Pure policies over an engine; no
Stan code here."""
