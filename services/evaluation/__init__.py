"""Evaluation: 万人评机关 campaigns, ballots, scores, rankings (十优/十差), grades, consequences."""
