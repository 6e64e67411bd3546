"""Customers, carts, orders, stock reservation and partner trading cooperatives. Imports only `catalog`."""
