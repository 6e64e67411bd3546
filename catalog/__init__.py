"""Cooperatives, their products and stock, and product search. Imports none of our other packages."""
