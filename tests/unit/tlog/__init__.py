"""Tests of issuer.tlog (issue 16)."""
