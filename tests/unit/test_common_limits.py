"""services.common.limits: which rule a path gets."""

from __future__ import annotations

from services.common.limits import BodyLimit, BodyLimitMiddleware


def test_the_first_matching_rule_wins_and_star_is_one_segment():
    middleware = BodyLimitMiddleware(None, limits=[
        BodyLimit("/api/v1/intake/qr/", 100), BodyLimit("/api/v1/intake/feeds/*/reports:batch", 50),
        BodyLimit("/api/", 10)])
    assert middleware.limit_for("/api/v1/intake/qr/P1/reports") == 100
    assert middleware.limit_for("/api/v1/intake/feeds/12345/reports:batch") == 50
    assert middleware.limit_for("/api/v1/intake/feeds/12345/reports") == 10
    assert middleware.limit_for("/api/v1/intake/feeds/a/b/reports:batch") == 10  # * never spans a '/'
    assert middleware.limit_for("/healthz") is None
