"""Reconciliation: our deposits × the callbacks we received × the platform's own record."""
