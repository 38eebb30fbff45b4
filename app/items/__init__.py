"""The items resource: schema, table, queries and routes."""
