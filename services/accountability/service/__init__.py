"""Accountability's domain logic (no HTTP here), one module per concern.

``cases``: opening, clues, the lifecycle transitions, findings, 一案双查; ``persons``: persons, measures and
容错免责; ``ledger``: the rectification ledger (整改台账); ``publishing``: typical cases, clarifications,
award ineligibility; ``consequences``: the unit directory read model and evaluation consequences;
``stats``: bulletin statistics.
"""
