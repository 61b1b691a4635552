"""The reporter's routes in the gateway's policy data: public, rate limited, and nothing next to them."""

from __future__ import annotations

import pytest

from gateway.policy import admit, rule_for
from gateway.settings import _default_rate_limits
from services.common.auth import Principal
from services.common.errors import Problem

PUBLIC = Principal(kind="public", subject="anonymous", client="10.0.0.9")


@pytest.mark.parametrize(("method", "path", "group"), [
    ("GET", "/api/v1/notification/ratings/abcDEF_123-xyz", "rating"),
    ("POST", "/api/v1/notification/ratings/abcDEF_123-xyz", "rating"),
    ("GET", "/api/v1/intake/receipts", "receipt"),
    ("POST", "/api/v1/intake/receipts", "receipt"),
    ("GET", "/qr/P-1/done/tok", "qr-page"),
])
def test_the_rating_link_and_the_lookup_page_are_public_and_rate_limited(method, path, group):
    rule = admit(PUBLIC, method, path)
    assert rule is not None and rule.audience == "public" and rule.limit == group
    assert group in _default_rate_limits()


@pytest.mark.parametrize(("method", "path"), [
    ("DELETE", "/api/v1/notification/ratings/abc"),
    ("GET", "/api/v1/notification/ratings/abc/extra"),
    ("GET", "/api/v1/notification/ratings"),
    ("GET", "/api/v1/triage/transfers"),
    ("POST", "/api/v1/triage/transfers/x/results"),
])
def test_what_lies_beside_them_stays_staff_only(method, path):
    assert rule_for(method, path) is None
    with pytest.raises(Problem) as refused:
        admit(PUBLIC, method, path)
    assert refused.value.status == 401
