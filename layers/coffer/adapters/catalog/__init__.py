"""The catalog: one DynamoDB table (single-table design), every access pattern a GetItem, Query or transaction."""
