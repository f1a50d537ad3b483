"""`coffer local ...`: the demo, sample resources and sample events, run on the embedded twin."""
