"""Result stores: one interface (base.Store), a CSV directory backend and SQL backends."""
