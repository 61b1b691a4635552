"""Triage: the daily sort and screen (一天一梳理、一天一筛选), taxonomy, unit directory, routing, duplicates."""
