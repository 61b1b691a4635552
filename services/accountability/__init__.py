"""Accountability: Cases, persons, measures, 一案双查, 容错免责, rectification ledger, statistics."""
